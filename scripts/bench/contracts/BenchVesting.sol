// SPDX-License-Identifier: MIT
// scripts/bench/pallets.py: the Solidity side of the vesting workload.
pragma solidity ^0.8.24;

import {VestingWallet} from "@openzeppelin/contracts/finance/VestingWallet.sol";

/// OpenZeppelin's VestingWallet as is: deployed with the value to vest (one wallet per
/// beneficiary), `release()` pays the vested native tokens to the beneficiary.
contract BenchVestingWallet is VestingWallet {
    constructor(address beneficiary, uint64 startTimestamp, uint64 durationSeconds)
        payable
        VestingWallet(beneficiary, startTimestamp, durationSeconds)
    {}
}
