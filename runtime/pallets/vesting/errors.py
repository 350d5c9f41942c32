"""Vesting errors: ABI custom errors, reverted with by a failing call."""
from runtime.pallets.framework import error

ZeroAmount = error("ZeroAmount()", "createSchedule without value")
ZeroDuration = error("ZeroDuration()", "durationSeconds is 0")
CliffAfterEnd = error("CliffAfterEnd(uint64 cliffSeconds, uint64 durationSeconds)", "the cliff is past the end")
ZeroBeneficiary = error("ZeroBeneficiary()", "the beneficiary is the zero address")
TooManySchedules = error("TooManySchedules(address account)", "an account takes part in at most MAX_SCHEDULES_PER_ACCOUNT schedules")
UnknownSchedule = error("UnknownSchedule(uint256 id)", "no schedule has this id")
NothingToRelease = error("NothingToRelease(uint256 id)", "nothing vested is left unreleased")
NotCreator = error("NotCreator(uint256 id)", "only the schedule's creator may revoke it")
NotRevocable = error("NotRevocable(uint256 id)", "the schedule was created irrevocable")
AlreadyRevoked = error("AlreadyRevoked(uint256 id)", "the schedule was revoked before")
