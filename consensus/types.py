"""Validators, validator sets, quorum arithmetic and the weighted round-robin proposer.

Voting power is an int and every comparison is exact: a quorum is ``3*power > 2*total``,
"one honest validator is among them" is ``3*power > total``. Validators iterate sorted by
address, so every node walks them in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Iterator, Sequence

import rlp

from runtime.primitives.hashing import keccak256

ADDRESS_SIZE = 20
# CometBFT's MaxTotalVotingPower: keeps priorities far from overflow in other clients
# and the proposer schedule short enough to compute (see ValidatorSet.proposer).
MAX_TOTAL_VOTING_POWER = 2**60 // 8


class Step(IntEnum):
    """The step of a round; ordered, so stale timeouts compare by (height, round, step)."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2
    COMMIT = 3  # the height is decided; the core leaves it at once for height + 1


class VoteType(IntEnum):
    """The two votes of a round; the values are the ones that are signed."""

    PREVOTE = 1
    PRECOMMIT = 2


@dataclass(frozen=True, slots=True)
class Validator:
    """One validator: its 20-byte address and its voting power (> 0)."""

    address: bytes
    power: int


class ValidatorSet:
    """An immutable set of validators, sorted by address, with its proposer schedule."""

    __slots__ = ("validators", "total_power", "_index", "_schedule", "_priorities")

    def __init__(self, validators: Sequence[Validator]) -> None:
        if not validators:
            raise ValueError("a validator set needs at least one validator")
        ordered = tuple(sorted(validators, key=lambda v: v.address))
        for v in ordered:
            if not isinstance(v.address, bytes) or len(v.address) != ADDRESS_SIZE:
                raise ValueError(f"validator address must be {ADDRESS_SIZE} bytes")
            if not isinstance(v.power, int) or isinstance(v.power, bool) or v.power <= 0:
                raise ValueError(f"validator 0x{v.address.hex()} needs a power > 0")
        if len({v.address for v in ordered}) != len(ordered):
            raise ValueError("duplicate validator address")
        total = sum(v.power for v in ordered)
        if total > MAX_TOTAL_VOTING_POWER:
            raise ValueError(f"total voting power {total} exceeds {MAX_TOTAL_VOTING_POWER}")
        self.validators: tuple[Validator, ...] = ordered
        self.total_power: int = total
        self._index = {v.address: i for i, v in enumerate(ordered)}
        # Proposer schedule, computed lazily: _schedule[k] is the index of the validator
        # chosen by the (k+1)-th increment from all-zero priorities.
        self._schedule: list[int] = []
        self._priorities = [0] * len(ordered)

    def __len__(self) -> int:
        return len(self.validators)

    def __iter__(self) -> Iterator[Validator]:
        return iter(self.validators)

    def __contains__(self, address: object) -> bool:
        return address in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatorSet) and self.validators == other.validators

    def __hash__(self) -> int:
        return hash(self.validators)

    def __repr__(self) -> str:
        return f"ValidatorSet({len(self)} validators, total_power={self.total_power})"

    def get(self, address: bytes) -> Validator | None:
        i = self._index.get(address)
        return None if i is None else self.validators[i]

    def power_of(self, address: bytes) -> int:
        """The voting power of ``address``; 0 for an address outside the set."""
        i = self._index.get(address)
        return 0 if i is None else self.validators[i].power

    def has_quorum(self, power: int) -> bool:
        """More than 2/3 of the total power: enough to decide (2f+1)."""
        return 3 * power > 2 * self.total_power

    def has_one_third(self, power: int) -> bool:
        """More than 1/3 of the total power: at least one honest validator (f+1)."""
        return 3 * power > self.total_power

    def compute_hash(self) -> bytes:
        """keccak256 of the RLP list of ``[address, power]``, in address order."""
        return keccak256(rlp.encode([[v.address, v.power] for v in self.validators]))

    def proposer(self, height: int, round: int) -> Validator:
        """The proposer of ``(height, round)``: a pure function of the set, height and round.

        CometBFT's weighted round-robin: starting from all-zero priorities, each step
        adds every validator's power to its priority, picks the highest priority (ties:
        the lower address, as CometBFT), and subtracts the total power from the chosen
        one. For a set that does not change this is what CometBFT computes from history:
        height 1 round 0 is the first step, each height and each round one more step, so
        ``(height, round)`` is step ``height + round`` (1-based).

        The priorities return to all-zero after ``total_power`` steps (each validator is
        chosen exactly ``power`` times per period), so the schedule is periodic and only
        one period is ever computed.
        """
        if height < 0 or round < 0:
            raise ValueError("height and round must be >= 0")
        k = (height + round - 1) % self.total_power
        self._extend_schedule(k + 1)
        return self.validators[self._schedule[k]]

    def _extend_schedule(self, length: int) -> None:
        priorities = self._priorities
        powers = [v.power for v in self.validators]
        total = self.total_power
        n = len(powers)
        while len(self._schedule) < length:
            best = 0
            for i in range(n):
                priorities[i] += powers[i]
                # Strictly greater: on a tie the earlier (lower) address stays chosen.
                if priorities[i] > priorities[best]:
                    best = i
            priorities[best] -= total
            self._schedule.append(best)
            if len(self._schedule) == total and any(priorities):
                raise AssertionError("proposer schedule is not periodic")  # broken invariant
