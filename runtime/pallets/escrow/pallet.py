"""Escrow: ``open`` locks the buyer's ``msg.value`` until it is released, refunded or split.

    OPEN --markShipped--> SHIPPED --confirm (buyer) / claim (seller, after the window)--> RELEASED
    OPEN --confirm (buyer)--> RELEASED
    OPEN --cancel (seller any time; buyer after the deadline)--> REFUNDED
    OPEN, SHIPPED --dispute (buyer or seller)--> DISPUTED --resolve (arbiter)--> RESOLVED

RELEASED, REFUNDED and RESOLVED are final: funds leave an escrow exactly once. Where the
issue was silent:

- ``open`` refuses a zero seller or arbiter, a seller who is the buyer, an arbiter who is
  the buyer or the seller (one party could then settle its own dispute), and a deadline
  not after the block's time.
- The buyer may cancel when ``timestamp > deadline``; the seller may claim when
  ``timestamp > shippedAt + window``. ``markShipped`` is allowed while OPEN, even past the
  deadline (until the buyer cancels). The buyer may still confirm or dispute after the
  window, until the seller claims.
- The confirm window is read from the ``confirmWindow`` parameter when the escrow is
  shipped and kept with it, so governance changing it does not shorten a running window.
- ``resolve`` pays ``amount * buyerBps // 10000`` to the buyer and the rest to the seller:
  rounding favours the seller by under 1 wei.
- A settled escrow keeps its ``amount`` as a record; its ``status`` says it was paid.
- The ``escrow(id)`` view reverts ``UnknownEscrow`` for an id never opened (as vesting's
  ``schedule``); the Python interface's ``get_escrow`` returns it with status NONE.
- An escrow opened by another pallet (:func:`~runtime.pallets.escrow.interface.open_escrow`)
  notifies that pallet on settlement in the same call; if the opener refuses (paused, or
  its hook reverts) the settlement reverts with it, so the two never disagree.

The funds are held in the pallet account's own balance. All checks run before the first
write; a failing call reverts all its writes anyway.
"""
from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from runtime.pallets.escrow.config import (
    BPS_DENOMINATOR,
    ESCROW_ADDRESS,
    PARAMETERS,
    WEIGHT_CANCEL,
    WEIGHT_CLAIM,
    WEIGHT_CONFIRM,
    WEIGHT_DISPUTE,
    WEIGHT_NOTIFY,
    WEIGHT_OPEN,
    WEIGHT_RESOLVE,
    WEIGHT_SHIP,
    WEIGHT_VIEW,
)
from runtime.pallets.escrow.errors import (
    ArbiterIsParty,
    BpsOutOfRange,
    ConfirmWindowOpen,
    DeadlineNotInFuture,
    DeadlineNotPassed,
    NotArbiter,
    NotBuyer,
    NotParty,
    NotSeller,
    SellerIsBuyer,
    UnknownEscrow,
    WrongStatus,
    ZeroAmount,
    ZeroArbiter,
    ZeroBuyer,
    ZeroSeller,
)
from runtime.pallets.escrow.events import Disputed, Opened, Refunded, Released, Resolved, Shipped
from runtime.pallets.escrow.interface import EscrowInfo, EscrowStatus
from runtime.pallets.framework import CallContext, EventSpec, Pallet, StorageMap, StorageValue, call

ZERO_ADDRESS = "0x" + "00" * 20
UINT64_MAX = 2**64 - 1

# Field order is the storage layout (Solidity's packing): buyer+deadline+status, seller+shippedAt,
# arbiter+window share a slot each; opener, amount and ref take one each.
ESCROW_FIELDS = (
    ("buyer", "address"), ("deadline", "uint64"), ("status", "uint8"), ("seller", "address"),
    ("shippedAt", "uint64"), ("arbiter", "address"), ("window", "uint64"), ("opener", "address"),
    ("amount", "uint256"), ("ref", "bytes32"),
)

def _is_zero(account: str) -> bool:
    return int(account, 16) == 0


def do_open(ctx: CallContext, *, buyer: str, seller: str, arbiter: str, deadline: int, ref: bytes,
            amount: int, opener: str) -> int:
    """Check and store a new escrow holding ``amount`` (already in the pallet's account); its id."""
    buyer, seller, arbiter = (to_checksum_address(a) for a in (buyer, seller, arbiter))
    if amount == 0:
        raise ZeroAmount()
    if _is_zero(buyer):
        raise ZeroBuyer()
    if _is_zero(seller):
        raise ZeroSeller()
    if _is_zero(arbiter):
        raise ZeroArbiter()
    if seller == buyer:
        raise SellerIsBuyer()
    if arbiter in (buyer, seller):
        raise ArbiterIsParty()
    if deadline <= ctx.timestamp:
        raise DeadlineNotInFuture(deadline, ctx.timestamp)
    escrow_id = ctx.storage.get_value("lastId") + 1  # ids start at 1: id 0 is never an escrow
    ctx.storage.set_value("lastId", escrow_id)
    fields = {
        "buyer": buyer, "seller": seller, "arbiter": arbiter, "amount": amount, "deadline": deadline,
        "ref": ref, "status": EscrowStatus.OPEN, "shippedAt": 0, "window": 0, "opener": opener,
    }
    # A new id's slots are empty: a zero ref or opener (a slot of its own each) is not written.
    ctx.storage.set_struct("escrows", {k: v for k, v in fields.items()
                                       if k not in ("ref", "opener") or int.from_bytes(_raw(v), "big")}, escrow_id)
    ctx.emit(Opened, id=escrow_id, buyer=buyer, seller=seller, amount=amount)
    return escrow_id


def _raw(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def read_escrow_status(ctx: CallContext, escrow_id: int) -> EscrowStatus:
    """The escrow's status (one slot read); NONE for an unknown id."""
    return EscrowStatus(ctx.storage.get_struct("escrows", escrow_id, fields=("status",))["status"])


def read_escrow(ctx: CallContext, escrow_id: int) -> EscrowInfo:
    """The escrow as stored; status NONE for an unknown id."""
    e = ctx.storage.get_struct("escrows", escrow_id)
    return EscrowInfo(buyer=e["buyer"], seller=e["seller"], arbiter=e["arbiter"], amount=e["amount"],
                      deadline=e["deadline"], ref=e["ref"], status=EscrowStatus(e["status"]),
                      shipped_at=e["shippedAt"], opener=e["opener"])


def _get(ctx: CallContext, escrow_id: int, *fields: str) -> dict[str, Any]:
    """The escrow's status and ``fields`` (all with none named); UnknownEscrow for an unknown id."""
    e = ctx.storage.get_struct("escrows", escrow_id, fields=("status", *fields) if fields else None)
    if e["status"] == EscrowStatus.NONE:  # every stored escrow has a status
        raise UnknownEscrow(escrow_id)
    e["status"] = EscrowStatus(e["status"])
    return e


def _require_status(escrow_id: int, e: dict[str, Any], *allowed: EscrowStatus) -> None:
    if e["status"] not in allowed:
        raise WrongStatus(escrow_id, e["status"])


def _settle(ctx: CallContext, escrow_id: int, e: dict[str, Any], status: EscrowStatus,
            payouts: list[tuple[str, int]], spec: EventSpec, **values: Any) -> None:
    """Mark the escrow final, pay, log, then tell the opener: it sees the escrow already settled."""
    ctx.storage.set_struct("escrows", {"status": status}, escrow_id)
    for to, amount in payouts:
        ctx.pay(to, amount)
    ctx.emit(spec, id=escrow_id, **values)
    _notify_opener(ctx, escrow_id, e["opener"], status)


def _notify_opener(ctx: CallContext, escrow_id: int, opener: str, status: EscrowStatus) -> None:
    if _is_zero(opener):
        return
    from runtime.pallets import get_pallet_at  # at call time: runtime.pallets imports this package

    opener_pallet = get_pallet_at(bytes.fromhex(opener[2:]))
    if opener_pallet is None or not hasattr(opener_pallet, "on_escrow_settled"):
        return
    # Not refused while the opener is paused: pausing stores must not lock buyers' funds in escrow.
    opener_ctx = ctx.enter(opener_pallet, weight=WEIGHT_NOTIFY, writes=False)
    opener_pallet().on_escrow_settled(opener_ctx, escrow_id, status)


class Escrow(Pallet):
    name = "escrow"
    address = ESCROW_ADDRESS
    storage_schema = {
        "lastId": StorageValue("uint256"),
        "escrows": StorageMap(("uint256",), ESCROW_FIELDS),
    }
    parameters = PARAMETERS
    events = (Opened, Shipped, Released, Refunded, Disputed, Resolved)
    errors = (ZeroAmount, ZeroBuyer, ZeroSeller, ZeroArbiter, SellerIsBuyer, ArbiterIsParty, DeadlineNotInFuture,
              UnknownEscrow, NotBuyer, NotSeller, NotArbiter, NotParty, WrongStatus, DeadlineNotPassed,
              ConfirmWindowOpen, BpsOutOfRange)

    @call("open(address seller, address arbiter, uint64 deadline, bytes32 ref)", returns="uint256 id",
          weight=WEIGHT_OPEN, payable=True)
    def open(self, ctx: CallContext, seller: str, arbiter: str, deadline: int, ref: bytes) -> int:
        """Lock msg.value for seller until released, refunded at cancel, or split by arbiter."""
        return do_open(ctx, buyer=ctx.sender, seller=seller, arbiter=arbiter, deadline=deadline, ref=ref,
                       amount=ctx.value, opener=ZERO_ADDRESS)

    @call("markShipped(uint256 id)", weight=WEIGHT_SHIP)
    def mark_shipped(self, ctx: CallContext, escrow_id: int) -> None:
        """Seller only, while open: starts the buyer's confirm window."""
        e = _get(ctx, escrow_id, "seller")
        if ctx.sender != e["seller"]:
            raise NotSeller(escrow_id)
        _require_status(escrow_id, e, EscrowStatus.OPEN)
        ctx.storage.set_struct("escrows", {"status": EscrowStatus.SHIPPED, "shippedAt": ctx.timestamp,
                                           "window": ctx.param("confirmWindow")}, escrow_id)
        ctx.emit(Shipped, id=escrow_id)

    @call("confirm(uint256 id)", weight=WEIGHT_CONFIRM)
    def confirm(self, ctx: CallContext, escrow_id: int) -> None:
        """Buyer only, open or shipped: pays the amount to the seller."""
        e = _get(ctx, escrow_id, "buyer", "seller", "amount", "opener")
        if ctx.sender != e["buyer"]:
            raise NotBuyer(escrow_id)
        _require_status(escrow_id, e, EscrowStatus.OPEN, EscrowStatus.SHIPPED)
        self._release(ctx, escrow_id, e)

    @call("claim(uint256 id)", weight=WEIGHT_CLAIM)
    def claim(self, ctx: CallContext, escrow_id: int) -> None:
        """Seller only, shipped and the confirm window over: pays the amount to the seller."""
        e = _get(ctx, escrow_id, "seller", "shippedAt", "window", "amount", "opener")
        if ctx.sender != e["seller"]:
            raise NotSeller(escrow_id)
        _require_status(escrow_id, e, EscrowStatus.SHIPPED)
        ends_at = min(e["shippedAt"] + e["window"], UINT64_MAX)  # saturates: endsAt is a uint64 in the error
        if ctx.timestamp <= ends_at:
            raise ConfirmWindowOpen(escrow_id, ends_at)
        self._release(ctx, escrow_id, e)

    @call("cancel(uint256 id)", weight=WEIGHT_CANCEL)
    def cancel(self, ctx: CallContext, escrow_id: int) -> None:
        """Open escrows: the seller any time, the buyer after the deadline; refunds the buyer."""
        e = _get(ctx, escrow_id, "buyer", "seller", "deadline", "amount", "opener")
        if ctx.sender not in (e["buyer"], e["seller"]):
            raise NotParty(escrow_id)
        _require_status(escrow_id, e, EscrowStatus.OPEN)
        if ctx.sender == e["buyer"] and ctx.timestamp <= e["deadline"]:
            raise DeadlineNotPassed(escrow_id, e["deadline"])
        _settle(ctx, escrow_id, e, EscrowStatus.REFUNDED, [(e["buyer"], e["amount"])],
                Refunded, to=e["buyer"], amount=e["amount"])

    @call("dispute(uint256 id)", weight=WEIGHT_DISPUTE)
    def dispute(self, ctx: CallContext, escrow_id: int) -> None:
        """Buyer or seller, open or shipped: only the arbiter can settle it from then on."""
        e = _get(ctx, escrow_id, "buyer", "seller")
        if ctx.sender not in (e["buyer"], e["seller"]):
            raise NotParty(escrow_id)
        _require_status(escrow_id, e, EscrowStatus.OPEN, EscrowStatus.SHIPPED)
        ctx.storage.set_struct("escrows", {"status": EscrowStatus.DISPUTED}, escrow_id)
        ctx.emit(Disputed, id=escrow_id, by=ctx.sender)

    @call("resolve(uint256 id, uint16 buyerBps)", weight=WEIGHT_RESOLVE)
    def resolve(self, ctx: CallContext, escrow_id: int, buyer_bps: int) -> None:
        """Arbiter only, disputed: buyerBps/10000 of the amount to the buyer, the rest to the seller."""
        e = _get(ctx, escrow_id, "arbiter", "buyer", "seller", "amount", "opener")
        if ctx.sender != e["arbiter"]:
            raise NotArbiter(escrow_id)
        if buyer_bps > BPS_DENOMINATOR:
            raise BpsOutOfRange(buyer_bps)
        _require_status(escrow_id, e, EscrowStatus.DISPUTED)
        to_buyer = e["amount"] * buyer_bps // BPS_DENOMINATOR
        to_seller = e["amount"] - to_buyer
        _settle(ctx, escrow_id, e, EscrowStatus.RESOLVED, [(e["buyer"], to_buyer), (e["seller"], to_seller)],
                Resolved, buyerBps=buyer_bps, toBuyer=to_buyer, toSeller=to_seller)

    @call("escrow(uint256 id)",
          returns="address buyer, address seller, address arbiter, uint256 amount, uint64 deadline, bytes32 ref, "
                  "uint8 status, uint64 shippedAt",
          weight=WEIGHT_VIEW, view=True)
    def escrow(self, ctx: CallContext, escrow_id: int) -> tuple:
        """The escrow id as stored."""
        e = _get(ctx, escrow_id)
        return (e["buyer"], e["seller"], e["arbiter"], e["amount"], e["deadline"], e["ref"], int(e["status"]),
                e["shippedAt"])

    @staticmethod
    def _release(ctx: CallContext, escrow_id: int, e: dict[str, Any]) -> None:
        _settle(ctx, escrow_id, e, EscrowStatus.RELEASED, [(e["seller"], e["amount"])],
                Released, to=e["seller"], amount=e["amount"])
