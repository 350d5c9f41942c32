// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// A plain OpenZeppelin ERC-20 for tests and benchmarks, with two ways to revert.
contract Token is ERC20 {
    error NotAllowed(address who);

    constructor(string memory name_, string memory symbol_, uint256 initialSupply) ERC20(name_, symbol_) {
        _mint(msg.sender, initialSupply);
    }

    /// Reverts with Error(string) carrying `reason`.
    function failWith(string calldata reason) external pure {
        revert(reason);
    }

    /// Reverts with the custom error NotAllowed(msg.sender).
    function guarded() external view {
        revert NotAllowed(msg.sender);
    }
}
