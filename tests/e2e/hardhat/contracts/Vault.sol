// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Holds the ether sent to it for a beneficiary until a release time; after that anyone may
/// release it (to the beneficiary). Used by the Hardhat project's tests and by the ethers and
/// web3.py toolchain scripts.
contract Vault {
    address public immutable beneficiary;
    uint256 public immutable releaseTime;

    event Deposited(address indexed from, uint256 amount);
    event Released(address indexed to, uint256 amount, uint256 releasedAt);

    error TooEarly(uint256 releaseTime, uint256 blockTime);
    error NothingToRelease();

    constructor(address beneficiary_, uint256 lockSeconds) payable {
        beneficiary = beneficiary_;
        releaseTime = block.timestamp + lockSeconds;
        if (msg.value > 0) emit Deposited(msg.sender, msg.value);
    }

    function deposit() external payable {
        emit Deposited(msg.sender, msg.value);
    }

    function release() external {
        if (block.timestamp < releaseTime) revert TooEarly(releaseTime, block.timestamp);
        uint256 amount = address(this).balance;
        if (amount == 0) revert NothingToRelease();
        emit Released(beneficiary, amount, block.timestamp);
        (bool ok, ) = beneficiary.call{value: amount}("");
        require(ok, "transfer to the beneficiary failed");
    }
}
