"""Vesting events: ordinary logs, topic 0 = keccak of the signature."""
from runtime.pallets.framework import event

ScheduleCreated = event("ScheduleCreated(uint256 indexed id, address indexed creator, address indexed beneficiary, uint256 amount)")
Released = event("Released(uint256 indexed id, uint256 amount)")
Revoked = event("Revoked(uint256 indexed id, uint256 refunded)")
