// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// Solidity contracts calling and called by WASM contracts in one transaction
/// (tests/e2e/test_wasm_solidity.py): the WASM ERC-20 and forwarder of vm/wasm/examples.

/// Pays several recipients from the caller's balance of any ERC-20 (WASM or EVM) with
/// transferFrom, counting batches in its own storage before and recording the total after.
contract Batch {
    uint256 public batches; // slot 0: written before the transfers
    uint256 public lastTotal; // slot 1: written after them

    event BatchSent(address indexed token, address indexed from, uint256 count, uint256 total);

    function send(IERC20 token, address[] calldata to, uint256[] calldata amounts) external returns (uint256 total) {
        require(to.length == amounts.length, "lengths differ");
        batches += 1;
        for (uint256 i = 0; i < to.length; i++) {
            // A failing transfer (ERC20InsufficientBalance, ...) bubbles up as this call's revert.
            require(token.transferFrom(msg.sender, to[i], amounts[i]), "transfer returned false");
            total += amounts[i];
        }
        lastTotal = total;
        emit BatchSent(address(token), msg.sender, to.length, total);
    }
}

/// The innermost frame: writes storage, logs, and reverts when told to.
contract Target {
    uint256 public value; // slot 0
    uint256 public writes; // slot 1

    event Stored(address indexed by, uint256 value);

    error Refused(uint256 value);

    function store(uint256 v, bool fail) external returns (uint256) {
        value = v;
        writes += 1;
        emit Stored(msg.sender, v);
        if (fail) revert Refused(v);
        return writes;
    }
}

/// The WASM forwarder's ABI (vm/wasm/examples/forwarder).
interface IForwarder {
    function forward(address target, bytes calldata data) external returns (bytes memory);
}

/// The outer frame of Solidity -> WASM -> Solidity: counts, logs, then calls the forwarder.
contract Caller {
    uint256 public count; // slot 0

    event Through(address indexed forwarder, uint256 count);

    function callThrough(IForwarder forwarder, address target, bytes calldata data) external returns (bytes memory) {
        count += 1;
        emit Through(address(forwarder), count);
        return forwarder.forward(target, data); // a revert anywhere below bubbles up
    }
}
