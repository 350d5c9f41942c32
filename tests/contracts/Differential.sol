// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Burnable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Burnable.sol";

// Contracts for tests/e2e/test_differential_anvil.py: the same signed transactions run on
// Anvil and on Chameleon must give the same receipts, return data and state. Nothing here
// reads what differs between the two chains by design (timestamp, prevrandao, block hashes).

/// An OpenZeppelin ERC-721 anyone can mint.
contract Collectible is ERC721Burnable {
    uint256 public minted;

    constructor() ERC721("Collectible", "COL") {}

    function mint(address to) external returns (uint256 id) {
        id = ++minted;
        _safeMint(to, id);
    }
}

/// Reverts, storage, logs, gas, precompiles, transient storage: one function per case.
contract Lab {
    error Failure(uint256 code, string why);
    error Empty();

    event Note(uint256 indexed tag, bytes data);
    event Survived(bool ok, uint256 gasLeft);
    event Precompiled(address indexed target, bool ok, bytes output);

    mapping(uint256 => uint256) public data;
    uint256 public counter;
    mapping(address => bytes32) public outputs;

    receive() external payable {}

    // --- reverts --------------------------------------------------------------------------

    function failCustom(uint256 code) external pure {
        revert Failure(code, "custom failure");
    }

    function failEmpty() external pure {
        revert Empty();
    }

    function failPanic(uint256 divisor) external pure returns (uint256) {
        return 1 / divisor;
    }

    /// Writes and logs, then reverts: neither the write nor the log may survive.
    function failAfterWrite(uint256 value) external {
        counter = value;
        emit Note(value, "written");
        revert Failure(value, "after write");
    }

    function failBare() external pure {
        assembly {
            revert(0, 0)
        }
    }

    /// INVALID (0xfe): consumes all the gas it was given.
    function failInvalid() external pure {
        assembly {
            invalid()
        }
    }

    /// A caught revert: its data ends up in a log.
    function tryFail(uint256 code) external {
        try this.failCustom(code) {} catch (bytes memory reason) {
            emit Note(code, reason);
        }
    }

    /// A sub-call with limited gas that may run out (63/64 rule), caught; gasleft() after it is logged.
    function tryBurn(uint256 rounds, uint256 gasForCall) external {
        (bool ok,) = address(this).call{gas: gasForCall}(abi.encodeCall(this.burn, (rounds)));
        counter += 1;
        emit Survived(ok, gasleft());
    }

    // --- gas and storage ------------------------------------------------------------------

    function burn(uint256 rounds) external returns (bytes32 acc) {
        for (uint256 i = 0; i < rounds; ++i) {
            acc = keccak256(abi.encodePacked(acc, i));
        }
        counter = uint256(acc);
    }

    function fill(uint256 from, uint256 count) external {
        for (uint256 i = from; i < from + count; ++i) {
            data[i] = i * 7 + 1;
        }
    }

    function clear(uint256 from, uint256 count) external {
        for (uint256 i = from; i < from + count; ++i) {
            delete data[i];
        }
    }

    /// One slot written four times in one transaction (EIP-2200/3529 net metering and refunds).
    function churn(uint256 slot) external {
        assembly {
            mstore(0, slot)
            mstore(32, data.slot)
            let key := keccak256(0, 64)
            sstore(key, 1)
            sstore(key, 2)
            sstore(key, 0)
            sstore(key, sload(key))
            sstore(key, 5)
        }
    }

    /// Transient storage (EIP-1153) and MCOPY (EIP-5656); what they produced is stored.
    function transient(uint256 value) external returns (uint256 seen, bytes32 copied) {
        assembly {
            tstore(7, value)
            seen := tload(7)
        }
        bytes memory source = abi.encodePacked(value, value + 1, value + 2);
        bytes memory target = new bytes(96);
        assembly {
            mcopy(add(target, 32), add(source, 32), 96)
            mcopy(add(target, 40), add(target, 32), 50) // overlapping
        }
        copied = keccak256(target);
        data[1000] = seen;
        data[1001] = uint256(copied);
    }

    /// LOG0 to LOG4 with the same payload.
    function logs(bytes calldata payload) external {
        assembly {
            let p := mload(0x40)
            calldatacopy(p, payload.offset, payload.length)
            log0(p, payload.length)
            log1(p, payload.length, 1)
            log2(p, payload.length, 1, 2)
            log3(p, payload.length, 1, 2, 3)
            log4(p, payload.length, 1, 2, 3, 4)
        }
    }

    /// The block and transaction context both chains share, and gasleft() mid-call.
    function context() external payable {
        data[2000] = block.number;
        data[2001] = block.basefee;
        data[2002] = block.chainid;
        data[2003] = block.gaslimit;
        data[2004] = uint160(address(block.coinbase));
        data[2005] = tx.gasprice;
        data[2006] = address(this).balance;
        data[2007] = msg.sender.balance;
        data[2008] = block.blobbasefee;
        data[2009] = gasleft();
        data[2010] = address(this).code.length;
        data[2011] = uint256(address(this).codehash);
        data[2012] = uint256(address(0xdead).codehash); // an empty, never-touched account: 0
    }

    /// EXTCODEHASH, EXTCODESIZE and BALANCE of each target, stored.
    function inspect(address[] calldata targets) external {
        for (uint256 i = 0; i < targets.length; ++i) {
            address target = targets[i];
            data[3000 + 3 * i] = uint256(target.codehash);
            data[3001 + 3 * i] = target.code.length;
            data[3002 + 3 * i] = target.balance;
        }
    }

    /// Memory expansion to `offset` + 32 bytes (quadratic cost); gasleft() after it is stored.
    function expand(uint256 offset) external {
        assembly {
            mstore(offset, 1)
        }
        data[4000] = gasleft();
    }

    /// CREATE with `size` bytes of zero init code (EIP-3860 caps it at 49152) and `value`.
    function createRaw(uint256 size, uint256 value) external returns (address child) {
        assembly {
            child := create(value, 0, size)
        }
        data[4001] = uint160(child);
    }

    /// A call with value to any account; its success is stored.
    function poke(address target, uint256 value, bytes calldata payload) external payable returns (bool ok) {
        (ok,) = target.call{value: value}(payload);
        data[4002] = ok ? 1 : 2;
    }

    /// RETURNDATACOPY beyond the return data: an exceptional halt.
    function returnDataOutOfBounds() external {
        this.counter();
        assembly {
            returndatacopy(0, 0, 64)
        }
        data[4003] = 1;
    }

    // --- precompiles ----------------------------------------------------------------------

    function precompile(address target, bytes calldata input, uint256 gas)
        external
        returns (bool ok, bytes memory output)
    {
        (ok, output) = target.staticcall{gas: gas}(input);
        outputs[target] = keccak256(abi.encode(ok, output));
        emit Precompiled(target, ok, output);
    }

    // --- ERC-721 receiver -----------------------------------------------------------------

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }
}

/// Deployed with CREATE2 by Factory; self-destructs on request.
contract Destructible {
    uint256 public value;

    constructor(uint256 value_) payable {
        value = value_;
    }

    function destroy(address payable to) external {
        selfdestruct(to);
    }

    receive() external payable {}
}

/// Self-destructs in its constructor (so it is deleted under Cancun's EIP-6780); to itself
/// when `to` is zero, which burns the value it was given.
contract Ephemeral {
    constructor(address payable to) payable {
        selfdestruct(to == address(0) ? payable(address(this)) : to);
    }
}

contract Factory {
    event Deployed(address indexed child, bytes32 salt);

    function deploy(bytes32 salt, uint256 value) external payable returns (address child) {
        child = address(new Destructible{salt: salt, value: msg.value}(value));
        emit Deployed(child, salt);
    }

    /// Create and self-destruct in one transaction: the child is deleted, its address reusable.
    function deployAndDestroy(bytes32 salt, uint256 value, address payable to) external payable returns (address child) {
        Destructible created = new Destructible{salt: salt, value: msg.value}(value);
        created.destroy(to);
        child = address(created);
        emit Deployed(child, salt);
    }

    function predict(bytes32 salt, uint256 value) external view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(Destructible).creationCode, abi.encode(value)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }

    function ephemeral(address payable to) external payable returns (address child) {
        child = address(new Ephemeral{value: msg.value}(to));
    }
}
