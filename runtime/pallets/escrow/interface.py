"""Escrow's Python interface: how another pallet (stores) opens and reads escrows.

Other pallets call these functions with their own ``CallContext``; they never touch the
escrow pallet's storage. The pallet that opens an escrow through :func:`open_escrow` is
its *opener*: when the escrow settles, escrow calls the opener's
``on_escrow_settled(ctx, escrow_id, status)`` (see :class:`EscrowListener`) if it has one.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from runtime.pallets.framework import CallContext


class EscrowStatus(IntEnum):
    NONE = 0       # no escrow has this id
    OPEN = 1       # funded, waiting for the seller to ship
    SHIPPED = 2    # the seller marked it shipped
    DISPUTED = 3   # buyer or seller disputed; the arbiter resolves
    RELEASED = 4   # paid to the seller (confirm or claim)
    REFUNDED = 5   # paid back to the buyer (cancel)
    RESOLVED = 6   # split by the arbiter


@dataclass(frozen=True, slots=True)
class EscrowInfo:
    buyer: str        # checksummed addresses
    seller: str
    arbiter: str
    amount: int
    deadline: int
    ref: bytes        # 32 bytes
    status: EscrowStatus
    shipped_at: int
    opener: str       # the pallet that opened it through open_escrow, or the zero address


class EscrowListener(Protocol):
    def on_escrow_settled(self, ctx: CallContext, escrow_id: int, status: EscrowStatus) -> None:
        """Called in the opener pallet's context when its escrow is RELEASED, REFUNDED or RESOLVED."""


def open_escrow(ctx: CallContext, *, buyer: str, seller: str, arbiter: str, deadline: int, ref: bytes,
                amount: int) -> int:
    """Open an escrow for ``buyer`` holding ``amount``, moved from the calling pallet's account.

    Checked as the ``open`` call checks (errors are escrow's own, e.g. ``ZeroAmount``);
    emits escrow's ``Opened``; the escrow's buyer is ``buyer`` (not the calling pallet), so
    the buyer confirms or disputes it directly. Returns the escrow id.
    """
    from runtime.pallets.escrow.config import WEIGHT_OPEN
    from runtime.pallets.escrow.pallet import Escrow, do_open  # at call time: pallet.py imports this module

    # A malformed ref or deadline is a bug in the calling pallet, not a user's bad input.
    if len(ref) != 32:
        raise ValueError(f"ref must be 32 bytes, got {len(ref)}")
    if not 0 <= deadline < 2**64:
        raise ValueError(f"deadline out of uint64 range: {deadline}")
    ectx = ctx.enter(Escrow, weight=WEIGHT_OPEN, value=amount)
    return do_open(ectx, buyer=buyer, seller=seller, arbiter=arbiter, deadline=deadline, ref=bytes(ref),
                   amount=amount, opener=ectx.sender)


def get_escrow(ctx: CallContext, escrow_id: int) -> EscrowInfo:
    """The escrow as stored (``status`` NONE for an unknown id)."""
    from runtime.pallets.escrow.config import WEIGHT_VIEW
    from runtime.pallets.escrow.pallet import Escrow, read_escrow

    return read_escrow(ctx.enter(Escrow, weight=WEIGHT_VIEW, writes=False), escrow_id)


def get_escrow_status(ctx: CallContext, escrow_id: int) -> EscrowStatus:
    """The escrow's status alone (one slot read; NONE for an unknown id)."""
    from runtime.pallets.escrow.config import WEIGHT_VIEW
    from runtime.pallets.escrow.pallet import Escrow, read_escrow_status

    return read_escrow_status(ctx.enter(Escrow, weight=WEIGHT_VIEW, writes=False), escrow_id)
