"""The vesting pallet: examples, and random create/release/revoke/time sequences against a model."""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from runtime.pallets import compute_abi
from runtime.pallets.vesting import VESTING_ADDRESS, Vesting, compute_vested
from tests.unit.pallets.harness import Runtime, checksum
from tests.unit.pallets.test_framework import decode_error

ABI = compute_abi(Vesting)


def test_compute_vested() -> None:
    assert compute_vested(1000, 100, 50, 200, 149) == 0
    assert compute_vested(1000, 100, 50, 200, 150) == 250
    assert compute_vested(1000, 100, 0, 200, 99) == 0
    assert compute_vested(1000, 100, 0, 200, 300) == 1000
    assert compute_vested(1000, 100, 0, 200, 10**9) == 1000
    assert compute_vested(10, 0, 0, 3, 1) == 3  # integer division


def test_create_release_revoke() -> None:
    rt = Runtime()
    creator, ben, other = rt.accounts
    t0 = rt.timestamp
    r = rt.call(creator, Vesting, "createSchedule", [checksum(ben), t0, 100, 1000, True], value=10_000)
    assert r.values == (1,)
    assert rt.view(Vesting, "schedulesOf", checksum(ben)) == (1,)
    assert rt.view(Vesting, "schedulesOf", checksum(creator)) == (1,)
    rt.advance(99)
    assert rt.view(Vesting, "releasable", 1) == 0
    assert decode_error(ABI, rt.call(other, Vesting, "release", [1]).outcome.output) == ("NothingToRelease", (1,))
    rt.advance(301)  # t0 + 400
    ben_before = rt.balance(ben)
    r = rt.call(other, Vesting, "release", [1])  # anyone may call; the beneficiary is paid
    assert r.values == (4000,)
    assert rt.balance(ben) == ben_before + 4000
    rt.advance(100)  # t0 + 500: 5000 vested, 1000 of it unreleased
    creator_before = rt.balance(creator)
    r = rt.call(creator, Vesting, "revoke", [1])
    assert r.success
    assert rt.balance(creator) == creator_before + 5000
    assert decode_error(ABI, rt.call(creator, Vesting, "revoke", [1]).outcome.output) == ("AlreadyRevoked", (1,))
    rt.advance(10_000)
    assert rt.view(Vesting, "releasable", 1) == 1000
    assert rt.call(other, Vesting, "release", [1]).values == (1000,)
    assert rt.balance(VESTING_ADDRESS) == 0
    assert rt.view(Vesting, "schedule", 1)[6:] == (True, 10_000, 5000)


def test_bad_creates_are_named() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    cases = [
        ([checksum(b), 0, 0, 10, True], 0, ("ZeroAmount", ())),
        ([checksum(b), 0, 0, 0, True], 1, ("ZeroDuration", ())),
        ([checksum(b), 0, 11, 10, True], 1, ("CliffAfterEnd", (11, 10))),
        (["0x" + "00" * 20, 0, 0, 10, True], 1, ("ZeroBeneficiary", ())),
    ]
    for args, value, expected in cases:
        r = rt.call(a, Vesting, "createSchedule", args, value=value)
        assert decode_error(ABI, r.outcome.output) == expected
    r = rt.call(a, Vesting, "createSchedule", [checksum(b), 0, 0, 10, False], value=5)
    assert decode_error(ABI, rt.call(a, Vesting, "revoke", [1]).outcome.output) == ("NotRevocable", (1,))


class VestingMachine(RuleBasedStateMachine):
    """A model of every schedule, checked against the pallet after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.rt = Runtime(accounts=3, balance=10**20)
        self.issuance = sum(self.rt.balances().values())
        self.model: dict[int, dict] = {}

    def _vested(self, s: dict) -> int:
        if s["revoked_at"] is not None:
            return s["vested_at_revoke"]
        return compute_vested(s["total"], s["start"], s["cliff"], s["duration"], self.rt.timestamp)

    def _expect_failure(self, r, name: str) -> None:
        assert not r.success
        assert decode_error(ABI, r.outcome.output)[0] == name

    @rule(creator=st.integers(0, 2), ben=st.integers(0, 2), start_offset=st.integers(-500, 500),
          cliff=st.integers(0, 300), duration=st.integers(1, 1000), revocable=st.booleans(),
          value=st.integers(1, 10**18))
    def create(self, creator, ben, start_offset, cliff, duration, revocable, value) -> None:
        start = max(0, self.rt.timestamp + start_offset)
        c, b = self.rt.accounts[creator], self.rt.accounts[ben]
        before = self.rt.balances()
        r = self.rt.call(c, Vesting, "createSchedule", [checksum(b), start, cliff, duration, revocable], value=value)
        if cliff > duration:
            self._expect_failure(r, "CliffAfterEnd")
            assert self.rt.balances() == before
            return
        assert r.success, r.outcome
        (sid,) = r.values
        assert sid == len(self.model) + 1
        self.model[sid] = dict(creator=c, ben=b, start=start, cliff=cliff, duration=duration, revocable=revocable,
                               total=value, released=0, revoked_at=None, vested_at_revoke=0)

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), caller=st.integers(0, 2))
    def release(self, pick, caller) -> None:
        sid = sorted(self.model)[pick % len(self.model)]
        s = self.model[sid]
        due = self._vested(s) - s["released"]
        before = self.rt.balances()
        r = self.rt.call(self.rt.accounts[caller], Vesting, "release", [sid])
        if due == 0:
            self._expect_failure(r, "NothingToRelease")
            assert self.rt.balances() == before
            return
        assert r.values == (due,)
        s["released"] += due
        assert self.rt.balance(s["ben"]) == before[s["ben"]] + due
        (log,) = r.outcome.logs
        assert int.from_bytes(log.topics[1], "big") == sid

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), caller=st.integers(0, 2))
    def revoke(self, pick, caller) -> None:
        sid = sorted(self.model)[pick % len(self.model)]
        s = self.model[sid]
        who = self.rt.accounts[caller]
        before = self.rt.balances()
        r = self.rt.call(who, Vesting, "revoke", [sid])
        expected_error = ("NotCreator" if who != s["creator"] else "NotRevocable" if not s["revocable"]
                          else "AlreadyRevoked" if s["revoked_at"] is not None else None)
        if expected_error:
            self._expect_failure(r, expected_error)
            assert self.rt.balances() == before
            return
        assert r.success, r.outcome
        vested = self._vested(s)
        s["revoked_at"], s["vested_at_revoke"] = self.rt.timestamp, vested
        assert self.rt.balance(s["creator"]) == before[s["creator"]] + s["total"] - vested

    @rule(caller=st.integers(0, 2), sid=st.integers(0, 50))
    def release_unknown(self, caller, sid) -> None:
        if sid in self.model:
            return
        before = self.rt.balances()
        self._expect_failure(self.rt.call(self.rt.accounts[caller], Vesting, "release", [sid]), "UnknownSchedule")
        assert self.rt.balances() == before

    @rule(seconds=st.integers(1, 400))
    def advance(self, seconds) -> None:
        self.rt.advance(seconds)

    @invariant()
    def issuance_is_conserved(self) -> None:
        assert sum(self.rt.balances().values()) == self.issuance

    @invariant()
    def pallet_holds_exactly_the_unreleased_funds(self) -> None:
        held = sum((s["vested_at_revoke"] if s["revoked_at"] is not None else s["total"]) - s["released"]
                   for s in self.model.values())
        assert self.rt.balance(VESTING_ADDRESS) == held

    @invariant()
    def never_released_more_than_vested(self) -> None:
        for sid, s in self.model.items():
            stored = self.rt.view(Vesting, "schedule", sid)
            assert stored[8] == s["released"] <= self._vested(s) <= s["total"]
            assert self.rt.view(Vesting, "releasable", sid) == self._vested(s) - s["released"]


VestingMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
TestVestingMachine = VestingMachine.TestCase
