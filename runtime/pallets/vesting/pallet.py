"""Vesting: ``createSchedule`` locks ``msg.value``; it vests linearly after a cliff.

vested(t) = 0 before ``start + cliffSeconds``, else ``total * min(t - start, duration) / duration``.
``release`` pays the vested, unreleased part to the beneficiary (anyone may call);
``revoke`` (creator only, revocable schedules) returns the unvested part to the creator and
freezes the schedule at what had vested.

The funds are held in the pallet account's own balance. All checks run before the first
write; a failing call reverts all its writes anyway.
"""
from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from runtime.pallets.framework import (
    CallContext,
    GenesisContext,
    GenesisError,
    Pallet,
    Storage,
    StorageList,
    StorageMap,
    StorageValue,
    call,
    parse_genesis_address,
    parse_genesis_number,
)
from runtime.pallets.vesting.config import (
    MAX_SCHEDULES_PER_ACCOUNT,
    VESTING_ADDRESS,
    WEIGHT_CREATE,
    WEIGHT_RELEASE,
    WEIGHT_REVOKE,
    WEIGHT_VIEW,
)
from runtime.pallets.vesting.errors import (
    AlreadyRevoked,
    CliffAfterEnd,
    NothingToRelease,
    NotCreator,
    NotRevocable,
    TooManySchedules,
    UnknownSchedule,
    ZeroAmount,
    ZeroBeneficiary,
    ZeroDuration,
)
from runtime.pallets.vesting.events import Released, Revoked, ScheduleCreated

# Field order is the storage layout (Solidity's packing): times and flags | beneficiary |
# creator | total+released | vestedAtRevoke. Amounts are uint128 (wei; the native supply is
# far below 2**128), so release reads three slots and updates one it has read.
SCHEDULE_FIELDS = (
    ("start", "uint64"), ("cliffSeconds", "uint64"), ("durationSeconds", "uint64"), ("revocable", "bool"),
    ("revoked", "bool"), ("beneficiary", "address"), ("creator", "address"), ("total", "uint128"),
    ("released", "uint128"), ("vestedAtRevoke", "uint128"),
)
# What computing the vested amount needs (vestedAtRevoke is read only for a revoked schedule).
_VESTING_FIELDS = ("start", "cliffSeconds", "durationSeconds", "revoked", "total", "released")


def compute_vested(total: int, start: int, cliff: int, duration: int, t: int) -> int:
    """What of ``total`` has vested at time ``t``."""
    if t < start + cliff:
        return 0
    return total * min(t - start, duration) // duration


def _vested_now(s: dict[str, Any], now: int) -> int:
    if s["revoked"]:
        return s["vestedAtRevoke"]  # loaded by Vesting._get for a revoked schedule
    return compute_vested(s["total"], s["start"], s["cliffSeconds"], s["durationSeconds"], now)


def _store_schedule(st: Storage, creator: str, beneficiary: str, start: int, cliff: int, duration: int,
                    revocable: bool, total: int, parties: list[str]) -> int:
    schedule_id = st.get_value("lastId") + 1  # ids start at 1
    st.set_value("lastId", schedule_id)
    # A new id's slots are empty: released and vestedAtRevoke (0) are not written.
    st.set_struct("schedules", {
        "creator": creator, "beneficiary": beneficiary, "start": start, "cliffSeconds": cliff,
        "durationSeconds": duration, "revocable": revocable, "revoked": False, "total": total,
    }, schedule_id)
    for account in parties:
        st.append("schedulesOf", schedule_id, account, too_many=TooManySchedules(account))
    return schedule_id


GENESIS_SCHEDULE_FIELDS = {"beneficiary", "amount", "start", "cliffSeconds", "durationSeconds", "creator", "revocable"}


class Vesting(Pallet):
    name = "vesting"
    address = VESTING_ADDRESS
    storage_schema = {
        "lastId": StorageValue("uint256"),
        "schedules": StorageMap(("uint256",), SCHEDULE_FIELDS),
        "schedulesOf": StorageList(("address",), "uint256", MAX_SCHEDULES_PER_ACCOUNT),
    }
    events = (ScheduleCreated, Released, Revoked)
    genesis_fields = frozenset({"schedules"})
    errors = (ZeroAmount, ZeroDuration, CliffAfterEnd, ZeroBeneficiary, TooManySchedules, UnknownSchedule,
              NothingToRelease, NotCreator, NotRevocable, AlreadyRevoked)

    @call("createSchedule(address beneficiary, uint64 start, uint64 cliffSeconds, uint64 durationSeconds, bool revocable)",
          returns="uint256 id", weight=WEIGHT_CREATE, payable=True)
    def create_schedule(self, ctx: CallContext, beneficiary: str, start: int, cliff: int, duration: int,
                        revocable: bool) -> int:
        """Lock msg.value for beneficiary, vesting linearly from start over durationSeconds after a cliff."""
        beneficiary = to_checksum_address(beneficiary)
        if ctx.value == 0:
            raise ZeroAmount()
        if duration == 0:
            raise ZeroDuration()
        if cliff > duration:
            raise CliffAfterEnd(cliff, duration)
        if int(beneficiary, 16) == 0:
            raise ZeroBeneficiary()
        parties = [beneficiary] if beneficiary == ctx.sender else [beneficiary, ctx.sender]
        for account in parties:
            if ctx.storage.get_list_length("schedulesOf", account) >= MAX_SCHEDULES_PER_ACCOUNT:
                raise TooManySchedules(account)
        schedule_id = _store_schedule(ctx.storage, ctx.sender, beneficiary, start, cliff, duration, revocable,
                                      ctx.value, parties)
        ctx.emit(ScheduleCreated, id=schedule_id, creator=ctx.sender, beneficiary=beneficiary, amount=ctx.value)
        return schedule_id

    @call("release(uint256 id)", returns="uint256 amount", weight=WEIGHT_RELEASE)
    def release(self, ctx: CallContext, schedule_id: int) -> int:
        """Pay the vested, unreleased part of schedule id to its beneficiary; anyone may call."""
        s = self._get(ctx, schedule_id, ("beneficiary",))
        amount = _vested_now(s, ctx.timestamp) - s["released"]
        if amount <= 0:
            raise NothingToRelease(schedule_id)
        ctx.storage.set_struct("schedules", {"released": s["released"] + amount}, schedule_id)
        ctx.pay(s["beneficiary"], amount)
        ctx.emit(Released, id=schedule_id, amount=amount)
        return amount

    @call("revoke(uint256 id)", weight=WEIGHT_REVOKE)
    def revoke(self, ctx: CallContext, schedule_id: int) -> None:
        """Creator only, revocable schedules: what vested stays releasable, the rest returns to the creator."""
        s = self._get(ctx, schedule_id, ("creator", "revocable"))
        if s["creator"] != ctx.sender:
            raise NotCreator(schedule_id)
        if not s["revocable"]:
            raise NotRevocable(schedule_id)
        if s["revoked"]:
            raise AlreadyRevoked(schedule_id)
        vested = _vested_now(s, ctx.timestamp)
        refunded = s["total"] - vested
        ctx.storage.set_struct("schedules", {"revoked": True, "vestedAtRevoke": vested}, schedule_id)
        ctx.pay(s["creator"], refunded)
        ctx.emit(Revoked, id=schedule_id, refunded=refunded)

    @call("schedule(uint256 id)",
          returns="address creator, address beneficiary, uint64 start, uint64 cliffSeconds, uint64 durationSeconds, "
                  "bool revocable, bool revoked, uint256 total, uint256 released",
          weight=WEIGHT_VIEW, view=True)
    def schedule(self, ctx: CallContext, schedule_id: int) -> tuple:
        """The schedule id as stored."""
        s = self._get(ctx, schedule_id, tuple(f for f, _ in SCHEDULE_FIELDS))
        return (s["creator"], s["beneficiary"], s["start"], s["cliffSeconds"], s["durationSeconds"],
                s["revocable"], s["revoked"], s["total"], s["released"])

    @call("releasable(uint256 id)", returns="uint256 amount", weight=WEIGHT_VIEW, view=True)
    def releasable(self, ctx: CallContext, schedule_id: int) -> int:
        """What release(id) would pay now."""
        s = self._get(ctx, schedule_id)
        return _vested_now(s, ctx.timestamp) - s["released"]

    @call("schedulesOf(address account)", returns="uint256[] ids", weight=WEIGHT_VIEW, view=True)
    def schedules_of(self, ctx: CallContext, account: str) -> list[int]:
        """Ids of the schedules account created or benefits from, oldest first."""
        return ctx.storage.get_list("schedulesOf", account)  # each item a metered slot read

    # -- genesis: {"schedules": [{"beneficiary", "amount", "start", "cliffSeconds", "durationSeconds",
    #                              "creator"?, "revocable"?}]}; the amounts are minted into the pallet --
    @classmethod
    def parse_genesis_extra(cls, section: dict[str, Any], where: str) -> dict[str, Any]:
        raw = section.get("schedules", [])
        if not isinstance(raw, list):
            raise GenesisError(f"{where}.schedules", "expected a list")
        schedules: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for i, item in enumerate(raw):
            at = f"{where}.schedules[{i}]"
            if not isinstance(item, dict):
                raise GenesisError(at, "expected an object")
            unknown = sorted(set(item) - GENESIS_SCHEDULE_FIELDS)
            if unknown:
                raise GenesisError(f"{at}.{unknown[0]}", "unknown field")
            for required in ("beneficiary", "amount", "durationSeconds"):
                if required not in item:
                    raise GenesisError(f"{at}.{required}", "missing")
            s = {
                "beneficiary": parse_genesis_address(item["beneficiary"], f"{at}.beneficiary"),
                "creator": parse_genesis_address(item.get("creator", "0x" + "00" * 20), f"{at}.creator"),
                "amount": parse_genesis_number(item["amount"], f"{at}.amount", bits=128),  # stored as uint128
                "start": parse_genesis_number(item.get("start", 0), f"{at}.start", bits=64),
                "cliffSeconds": parse_genesis_number(item.get("cliffSeconds", 0), f"{at}.cliffSeconds", bits=64),
                "durationSeconds": parse_genesis_number(item["durationSeconds"], f"{at}.durationSeconds", bits=64),
                "revocable": item.get("revocable", False),
            }
            if not isinstance(s["revocable"], bool):
                raise GenesisError(f"{at}.revocable", "expected true or false")
            if s["revocable"] and int(s["creator"], 16) == 0:
                raise GenesisError(f"{at}.revocable", "a revocable schedule needs a creator to revoke it")
            if s["amount"] == 0 or s["durationSeconds"] == 0 or s["cliffSeconds"] > s["durationSeconds"]:
                raise GenesisError(at, "needs amount > 0, durationSeconds > 0 and cliffSeconds <= durationSeconds")
            if int(s["beneficiary"], 16) == 0:
                raise GenesisError(f"{at}.beneficiary", "the zero address")
            schedules.append(s)
            for account in {s["beneficiary"], s["creator"]} - {"0x" + "00" * 20}:
                counts[account] = counts.get(account, 0) + 1
                if counts[account] > MAX_SCHEDULES_PER_ACCOUNT:
                    raise GenesisError(at, f"{account} would take part in more than {MAX_SCHEDULES_PER_ACCOUNT} schedules")
        return {"schedules": schedules}

    @classmethod
    def apply_genesis_extra(cls, ctx: GenesisContext, parsed: dict[str, Any]) -> None:
        for s in parsed.get("schedules", []):
            parties = [s["beneficiary"]]
            if int(s["creator"], 16) != 0 and s["creator"] != s["beneficiary"]:
                parties.append(s["creator"])
            _store_schedule(ctx.storage, s["creator"], s["beneficiary"], s["start"], s["cliffSeconds"],
                            s["durationSeconds"], s["revocable"], s["amount"], parties)
            ctx.mint(s["amount"])

    @staticmethod
    def _get(ctx: CallContext, schedule_id: int, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        """The schedule's fields the vested amount needs, and ``extra``; each slot read once."""
        s = ctx.storage.get_struct("schedules", schedule_id, fields=_VESTING_FIELDS + extra)
        if s["durationSeconds"] == 0:  # every stored schedule has a duration
            raise UnknownSchedule(schedule_id)
        if s["revoked"] and "vestedAtRevoke" not in s:
            s.update(ctx.storage.get_struct("schedules", schedule_id, fields=("vestedAtRevoke",)))
        return s
