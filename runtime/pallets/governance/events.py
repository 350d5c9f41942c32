"""Governance events: ordinary logs, topic 0 = keccak of the signature."""
from runtime.pallets.framework import event

Proposed = event("Proposed(uint256 indexed id, address indexed proposer, address indexed target, uint256 value, "
                 "uint256 deposit, uint64 votingStarts, uint64 votingEnds, string description)")
Voted = event("Voted(uint256 indexed id, address indexed voter, uint8 support, uint256 weight)")
Passed = event("Passed(uint256 indexed id, uint256 forVotes, uint256 againstVotes, uint256 abstainVotes)")
Rejected = event("Rejected(uint256 indexed id, uint256 forVotes, uint256 againstVotes, uint256 abstainVotes)")
Executed = event("Executed(uint256 indexed id, bytes returndata)")
Canceled = event("Canceled(uint256 indexed id)")
Unlocked = event("Unlocked(uint256 indexed id, address indexed account, uint256 amount)",
                 "a vote lock, or the proposer's deposit, returned")
DepositForfeited = event("DepositForfeited(uint256 indexed id, uint256 amount)", "a Rejected proposal's deposit, to the treasury")
TreasuryFunded = event("TreasuryFunded(address indexed from, uint256 amount)")
TreasurySpent = event("TreasurySpent(address indexed to, uint256 amount)")
ParameterSet = event("ParameterSet(address indexed pallet, bytes32 indexed key, uint256 value)")
PalletPaused = event("PalletPaused(address indexed pallet)")
PalletUnpaused = event("PalletUnpaused(address indexed pallet)")
