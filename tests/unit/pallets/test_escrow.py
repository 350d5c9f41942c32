"""The escrow pallet: every flow, every refused call, the Python interface and its settlement
callback, and random call sequences against a model."""
from __future__ import annotations

import pytest
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import runtime.pallets
from runtime.chainspec import parse_chain_spec
from runtime.errors import InvalidChainSpec
from runtime.pallets import PALLETS, compute_abi, native_handlers
from runtime.pallets.escrow import ESCROW_ADDRESS, Escrow, EscrowStatus, get_escrow, open_escrow
from runtime.pallets.escrow.config import WEIGHT_OPEN
from runtime.pallets.framework import (
    CallContext,
    Pallet,
    StorageValue,
    apply_parameter,
    apply_paused,
    call,
    error,
    get_parameter,
)
from runtime.state.store import MemoryStore, StateDB
from tests.unit.pallets.harness import Runtime, checksum
from tests.unit.pallets.test_framework import decode_error
from vm import evm

ABI = compute_abi(Escrow)
REF = keccak(text="order-42")
DAY = 86_400
ZERO = "0x" + "00" * 20


def _err(r) -> tuple[str, tuple]:
    assert not r.success, "the call should have failed"
    return decode_error(ABI, r.outcome.output)


def _open(rt: Runtime, buyer: bytes, seller: bytes, arbiter: bytes, value: int, deadline: int | None = None) -> int:
    deadline = rt.timestamp + DAY if deadline is None else deadline
    r = rt.call(buyer, Escrow, "open", [checksum(seller), checksum(arbiter), deadline, REF], value=value)
    assert r.success, r.outcome
    return r.values[0]


def _status(rt: Runtime, escrow_id: int) -> EscrowStatus:
    return EscrowStatus(rt.view(Escrow, "escrow", escrow_id)[6])


def _log_args(log, types: list[str]) -> tuple:
    return tuple(abi_decode(types, log.data))


def test_abi_is_the_issue_interface() -> None:
    functions = {f"{i['name']}({','.join(x['type'] for x in i['inputs'])})": i["stateMutability"]
                 for i in ABI if i["type"] == "function"}
    assert functions == {
        "open(address,address,uint64,bytes32)": "payable", "markShipped(uint256)": "nonpayable",
        "confirm(uint256)": "nonpayable", "cancel(uint256)": "nonpayable", "dispute(uint256)": "nonpayable",
        "resolve(uint256,uint16)": "nonpayable", "claim(uint256)": "nonpayable", "escrow(uint256)": "view",
    }
    events = {i["name"]: i for i in ABI if i["type"] == "event"}
    assert set(events) == {"Opened", "Shipped", "Released", "Refunded", "Disputed", "Resolved"}
    for e in events.values():  # every event leads with the escrow id, indexed
        assert e["inputs"][0] == {"name": "id", "type": "uint256", "internalType": "uint256", "indexed": True}


def test_open_ship_confirm() -> None:
    rt = Runtime(accounts=4)
    buyer, seller, arbiter, _ = rt.accounts
    deadline = rt.timestamp + DAY
    r = rt.call(buyer, Escrow, "open", [checksum(seller), checksum(arbiter), deadline, REF], value=5000)
    assert r.values == (1,)
    (log,) = r.outcome.logs
    assert log.address == ESCROW_ADDRESS
    assert log.topics[0] == keccak(text="Opened(uint256,address,address,uint256)")
    assert log.topics[1:] == (abi_encode(["uint256"], [1]), abi_encode(["address"], [buyer]),
                              abi_encode(["address"], [seller]))
    assert _log_args(log, ["uint256"]) == (5000,)
    assert rt.balance(ESCROW_ADDRESS) == 5000
    assert rt.view(Escrow, "escrow", 1) == (checksum(buyer).lower(), checksum(seller).lower(),
                                           checksum(arbiter).lower(), 5000, deadline, REF, 1, 0)
    rt.advance(100)
    r = rt.call(seller, Escrow, "markShipped", [1])
    assert r.success
    assert [lg.topics for lg in r.outcome.logs] == [(keccak(text="Shipped(uint256)"), abi_encode(["uint256"], [1]))]
    assert rt.view(Escrow, "escrow", 1)[6:] == (EscrowStatus.SHIPPED, rt.timestamp)
    seller_before = rt.balance(seller)
    r = rt.call(buyer, Escrow, "confirm", [1])
    assert r.success
    (log,) = r.outcome.logs
    assert log.topics[0] == keccak(text="Released(uint256,address,uint256)")
    assert _log_args(log, ["address", "uint256"]) == (checksum(seller).lower(), 5000)
    assert rt.balance(seller) == seller_before + 5000
    assert rt.balance(ESCROW_ADDRESS) == 0
    assert _status(rt, 1) == EscrowStatus.RELEASED
    assert rt.view(Escrow, "escrow", 1)[3] == 5000  # the amount stays as a record
    assert _err(rt.call(buyer, Escrow, "confirm", [1])) == ("WrongStatus", (1, EscrowStatus.RELEASED))


def test_buyer_may_confirm_before_shipping() -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    _open(rt, buyer, seller, arbiter, 700)
    before = rt.balance(seller)
    assert rt.call(buyer, Escrow, "confirm", [1]).success
    assert rt.balance(seller) == before + 700


def test_seller_cancels_any_time_while_open() -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    _open(rt, buyer, seller, arbiter, 900)
    buyer_before = rt.balance(buyer)
    r = rt.call(seller, Escrow, "cancel", [1])
    assert r.success
    (log,) = r.outcome.logs
    assert log.topics[0] == keccak(text="Refunded(uint256,address,uint256)")
    assert _log_args(log, ["address", "uint256"]) == (checksum(buyer).lower(), 900)
    assert rt.balance(buyer) == buyer_before + 900
    assert rt.balance(ESCROW_ADDRESS) == 0
    assert _status(rt, 1) == EscrowStatus.REFUNDED


def test_buyer_cancels_only_after_the_deadline() -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    deadline = rt.timestamp + 1000
    _open(rt, buyer, seller, arbiter, 400, deadline)
    before = rt.balances()
    assert _err(rt.call(buyer, Escrow, "cancel", [1])) == ("DeadlineNotPassed", (1, deadline))
    rt.advance(1000)  # timestamp == deadline: not yet past it
    assert _err(rt.call(buyer, Escrow, "cancel", [1])) == ("DeadlineNotPassed", (1, deadline))
    assert rt.balances() == before
    rt.advance(1)
    assert rt.call(buyer, Escrow, "cancel", [1]).success
    assert rt.balance(buyer) == before[buyer] + 400
    assert rt.balance(ESCROW_ADDRESS) == 0


def test_buyer_cannot_cancel_once_shipped_even_past_the_deadline() -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    _open(rt, buyer, seller, arbiter, 400, rt.timestamp + 10)
    rt.advance(20)
    assert rt.call(seller, Escrow, "markShipped", [1]).success  # late, but before the buyer cancelled
    assert _err(rt.call(buyer, Escrow, "cancel", [1])) == ("WrongStatus", (1, EscrowStatus.SHIPPED))
    assert _err(rt.call(seller, Escrow, "cancel", [1])) == ("WrongStatus", (1, EscrowStatus.SHIPPED))


@pytest.mark.parametrize("amount, bps, to_buyer, to_seller", [
    (10_000, 3000, 3000, 7000),
    (1001, 3000, 300, 701),  # 300.3 rounds down for the buyer; the seller gets the remainder
    (7, 10_000, 7, 0),
    (7, 0, 0, 7),
    (1, 5000, 0, 1),
])
def test_dispute_then_resolve_splits_exactly(amount, bps, to_buyer, to_seller) -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    _open(rt, buyer, seller, arbiter, amount)
    assert rt.call(seller, Escrow, "markShipped", [1]).success
    r = rt.call(buyer, Escrow, "dispute", [1])
    assert r.success
    (log,) = r.outcome.logs
    assert log.topics[0] == keccak(text="Disputed(uint256,address)")
    assert _log_args(log, ["address"]) == (checksum(buyer).lower(),)
    before = rt.balances()
    r = rt.call(arbiter, Escrow, "resolve", [1, bps])
    assert r.success, r.outcome
    (log,) = r.outcome.logs
    assert log.topics == (keccak(text="Resolved(uint256,uint16,uint256,uint256)"), abi_encode(["uint256"], [1]))
    assert _log_args(log, ["uint16", "uint256", "uint256"]) == (bps, to_buyer, to_seller)
    assert rt.balance(buyer) == before[buyer] + to_buyer
    assert rt.balance(seller) == before[seller] + to_seller
    assert rt.balance(arbiter) == before[arbiter]
    assert rt.balance(ESCROW_ADDRESS) == 0
    assert _status(rt, 1) == EscrowStatus.RESOLVED
    assert _err(rt.call(arbiter, Escrow, "resolve", [1, bps])) == ("WrongStatus", (1, EscrowStatus.RESOLVED))


def test_seller_disputes_an_open_escrow() -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    _open(rt, buyer, seller, arbiter, 10)
    assert rt.call(seller, Escrow, "dispute", [1]).success
    assert _status(rt, 1) == EscrowStatus.DISPUTED
    # a disputed escrow is the arbiter's alone
    assert _err(rt.call(buyer, Escrow, "confirm", [1])) == ("WrongStatus", (1, EscrowStatus.DISPUTED))
    assert _err(rt.call(seller, Escrow, "cancel", [1])) == ("WrongStatus", (1, EscrowStatus.DISPUTED))


def test_claim_only_after_the_confirm_window() -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    _open(rt, buyer, seller, arbiter, 2500)
    window = get_parameter(rt.state, Escrow, "confirmWindow")
    assert window == 7 * DAY
    assert rt.call(seller, Escrow, "markShipped", [1]).success
    shipped_at = rt.timestamp
    ends_at = shipped_at + window
    before = rt.balances()
    assert _err(rt.call(seller, Escrow, "claim", [1])) == ("ConfirmWindowOpen", (1, ends_at))
    rt.advance(window)  # at the window's last second: still the buyer's
    assert _err(rt.call(seller, Escrow, "claim", [1])) == ("ConfirmWindowOpen", (1, ends_at))
    assert rt.balances() == before
    rt.advance(1)
    r = rt.call(seller, Escrow, "claim", [1])
    assert r.success
    assert r.outcome.logs[0].topics[0] == keccak(text="Released(uint256,address,uint256)")
    assert rt.balance(seller) == before[seller] + 2500
    assert _status(rt, 1) == EscrowStatus.RELEASED


def test_a_shipped_escrow_keeps_its_window_when_governance_changes_it() -> None:
    rt = Runtime(accounts=3)
    buyer, seller, arbiter = rt.accounts
    apply_parameter(rt.state, Escrow, "confirmWindow", 3600)
    rt.advance(0)
    _open(rt, buyer, seller, arbiter, 10)
    _open(rt, buyer, seller, arbiter, 10)
    assert rt.call(seller, Escrow, "markShipped", [1]).success
    apply_parameter(rt.state, Escrow, "confirmWindow", 60)
    rt.advance(0)
    assert rt.call(seller, Escrow, "markShipped", [2]).success
    rt.advance(61)
    assert rt.call(seller, Escrow, "claim", [2]).success
    assert _err(rt.call(seller, Escrow, "claim", [1]))[0] == "ConfirmWindowOpen"
    rt.advance(3600)
    assert rt.call(seller, Escrow, "claim", [1]).success


# ---- refused calls: the named error, and nothing moves ----

def _scenario() -> tuple[Runtime, dict[str, bytes]]:
    """Escrows 1 OPEN, 2 SHIPPED, 3 DISPUTED, 4 RELEASED, 5 REFUNDED, 6 RESOLVED."""
    rt = Runtime(accounts=4)
    buyer, seller, arbiter, other = rt.accounts
    for _ in range(6):
        _open(rt, buyer, seller, arbiter, 1000, rt.timestamp + 500)
    for i in (2, 3):
        assert rt.call(seller, Escrow, "markShipped", [i]).success
    assert rt.call(buyer, Escrow, "dispute", [3]).success
    assert rt.call(buyer, Escrow, "confirm", [4]).success
    assert rt.call(seller, Escrow, "cancel", [5]).success
    assert rt.call(seller, Escrow, "dispute", [6]).success
    assert rt.call(arbiter, Escrow, "resolve", [6, 5000]).success
    return rt, {"buyer": buyer, "seller": seller, "arbiter": arbiter, "other": other}


S = EscrowStatus
BAD_CALLS = [
    # wrong caller
    ("other", "markShipped", [1], ("NotSeller", (1,))),
    ("buyer", "markShipped", [1], ("NotSeller", (1,))),
    ("seller", "confirm", [1], ("NotBuyer", (1,))),
    ("arbiter", "confirm", [2], ("NotBuyer", (2,))),
    ("buyer", "claim", [2], ("NotSeller", (2,))),
    ("other", "cancel", [1], ("NotParty", (1,))),
    ("arbiter", "cancel", [1], ("NotParty", (1,))),
    ("arbiter", "dispute", [1], ("NotParty", (1,))),
    ("other", "dispute", [2], ("NotParty", (2,))),
    ("buyer", "resolve", [3, 5000], ("NotArbiter", (3,))),
    ("seller", "resolve", [3, 0], ("NotArbiter", (3,))),
    # wrong status
    ("seller", "markShipped", [2], ("WrongStatus", (2, S.SHIPPED))),
    ("seller", "markShipped", [3], ("WrongStatus", (3, S.DISPUTED))),
    ("seller", "claim", [1], ("WrongStatus", (1, S.OPEN))),
    ("seller", "claim", [3], ("WrongStatus", (3, S.DISPUTED))),
    ("buyer", "confirm", [3], ("WrongStatus", (3, S.DISPUTED))),
    ("buyer", "confirm", [5], ("WrongStatus", (5, S.REFUNDED))),
    ("seller", "cancel", [2], ("WrongStatus", (2, S.SHIPPED))),
    ("seller", "cancel", [4], ("WrongStatus", (4, S.RELEASED))),
    ("buyer", "dispute", [3], ("WrongStatus", (3, S.DISPUTED))),
    ("buyer", "dispute", [4], ("WrongStatus", (4, S.RELEASED))),
    ("seller", "dispute", [6], ("WrongStatus", (6, S.RESOLVED))),
    ("arbiter", "resolve", [1, 5000], ("WrongStatus", (1, S.OPEN))),
    ("arbiter", "resolve", [2, 5000], ("WrongStatus", (2, S.SHIPPED))),
    ("arbiter", "resolve", [6, 5000], ("WrongStatus", (6, S.RESOLVED))),
    # time and range
    ("buyer", "cancel", [1], ("DeadlineNotPassed", (1, None))),
    ("seller", "claim", [2], ("ConfirmWindowOpen", (2, None))),
    ("arbiter", "resolve", [3, 10_001], ("BpsOutOfRange", (10_001,))),
    ("arbiter", "resolve", [3, 65_535], ("BpsOutOfRange", (65_535,))),
    # unknown ids
    *[(who, name, [i, *extra], ("UnknownEscrow", (i,)))
      for who, name, extra in [("buyer", "confirm", []), ("seller", "markShipped", []), ("seller", "claim", []),
                               ("seller", "cancel", []), ("buyer", "dispute", []), ("arbiter", "resolve", [0])]
      for i in (0, 7, 2**256 - 1)],
]


@pytest.mark.parametrize("who, name, args, expected", BAD_CALLS, ids=[f"{c[1]}-{c[3][0]}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_calls_are_named_and_change_nothing(who, name, args, expected) -> None:
    rt, roles = _scenario()
    views = [rt.view(Escrow, "escrow", i) for i in range(1, 7)]
    before = rt.balances()
    got = _err(rt.call(roles[who], Escrow, name, args))
    assert got[0] == expected[0]
    assert all(e is None or g == e for g, e in zip(got[1], expected[1], strict=True)), got
    assert rt.balances() == before
    assert [rt.view(Escrow, "escrow", i) for i in range(1, 7)] == views


def test_unknown_escrow_view_is_named() -> None:
    rt = Runtime()
    assert _err(rt.call(rt.accounts[0], Escrow, "escrow", [3])) == ("UnknownEscrow", (3,))


def test_bad_opens_are_named_and_change_nothing() -> None:
    rt = Runtime(accounts=3)
    a, b, c = rt.accounts
    now = rt.timestamp
    cases = [
        ([checksum(b), checksum(c), now + 10, REF], 0, ("ZeroAmount", ())),
        ([ZERO, checksum(c), now + 10, REF], 1, ("ZeroSeller", ())),
        ([checksum(b), ZERO, now + 10, REF], 1, ("ZeroArbiter", ())),
        ([checksum(a), checksum(c), now + 10, REF], 1, ("SellerIsBuyer", ())),
        ([checksum(b), checksum(a), now + 10, REF], 1, ("ArbiterIsParty", ())),
        ([checksum(b), checksum(b), now + 10, REF], 1, ("ArbiterIsParty", ())),
        ([checksum(b), checksum(c), now, REF], 1, ("DeadlineNotInFuture", (now, now))),
        ([checksum(b), checksum(c), 0, REF], 1, ("DeadlineNotInFuture", (0, now))),
    ]
    before = rt.balances()
    for args, value, expected in cases:
        assert _err(rt.call(a, Escrow, "open", args, value=value)) == expected
    assert rt.balances() == before
    assert _open(rt, a, b, c, 1) == 1  # no id was used up by the failures


def test_framework_errors_change_nothing() -> None:
    rt, roles = _scenario()
    before = rt.balances()
    buyer = roles["buyer"]
    r = rt.raw_call(buyer, ESCROW_ADDRESS, b"\xde\xad\xbe\xef")
    assert decode_error(ABI, r.output) == ("UnknownSelector", (b"\xde\xad\xbe\xef",))
    r = rt.raw_call(buyer, ESCROW_ADDRESS, b"\x01")
    assert decode_error(ABI, r.output) == ("UnknownSelector", (b"\x01\x00\x00\x00",))
    confirm = function_signature_to_4byte_selector("confirm(uint256)")
    assert decode_error(ABI, rt.raw_call(buyer, ESCROW_ADDRESS, confirm + b"\x01").output) == ("BadCalldata", ())
    open_ = function_signature_to_4byte_selector("open(address,address,uint64,bytes32)")
    short = open_ + abi_encode(["address", "address"], [roles["seller"], roles["arbiter"]])
    assert decode_error(ABI, rt.raw_call(buyer, ESCROW_ADDRESS, short, value=5).output) == ("BadCalldata", ())
    assert _err(rt.call(buyer, Escrow, "confirm", [1], value=5)) == ("NotPayable", (5,))
    assert _err(rt.call(buyer, Escrow, "escrow", [1], value=5)) == ("NotPayable", (5,))
    assert rt.balances() == before
    assert _status(rt, 1) == EscrowStatus.OPEN


def test_paused_escrow_refuses_writes_but_answers_views() -> None:
    rt, roles = _scenario()
    apply_paused(rt.state, Escrow, True)
    rt.advance(0)
    before = rt.balances()
    assert _err(rt.call(roles["buyer"], Escrow, "confirm", [1])) == ("Paused", (checksum(ESCROW_ADDRESS).lower(),))
    assert rt.balances() == before
    assert _status(rt, 1) == EscrowStatus.OPEN


def test_weight_is_charged_as_gas() -> None:
    rt = Runtime(accounts=3)
    a, b, c = rt.accounts
    r = rt.call(a, Escrow, "open", [checksum(b), checksum(c), rt.timestamp + 10, REF], value=1)
    assert r.success and r.outcome.gas_used >= 21_000 + WEIGHT_OPEN


# ---- genesis: the parameter comes from the chain spec ----

BASE = {"name": "t", "chainId": 7, "gasLimit": 30_000_000, "baseFeePerGas": 0, "consensus": {"engine": "dev"}}


def test_genesis_sets_the_confirm_window() -> None:
    from runtime.executive import build_genesis

    spec = parse_chain_spec({**BASE, "pallets": {"escrow": {"confirmWindow": 3600}}})
    store = MemoryStore()
    header, writes = build_genesis(spec, store)
    store.write(writes)
    assert get_parameter(AccountDB(AtomicDB(StateDB(store)), header.state_root), Escrow, "confirmWindow") == 3600


@pytest.mark.parametrize("section, field", [
    ({"confirmWindow": 59}, "pallets.escrow.confirmWindow"),
    ({"confirmWindow": 365 * DAY + 1}, "pallets.escrow.confirmWindow"),
    ({"deadline": 5}, "pallets.escrow.deadline"),
])
def test_bad_genesis_is_refused_by_field(section, field) -> None:
    with pytest.raises(InvalidChainSpec) as info:
        parse_chain_spec({**BASE, "pallets": {"escrow": section}})
    assert info.value.field == field


# ---- the Python interface: a pallet opens escrows for its buyers and hears of settlement ----

Refused = error("Refused(uint256 id)")


class Shop(Pallet):
    """A test pallet: buys through escrow, counts settlements, and may refuse one."""
    name = "shop"
    address = bytes.fromhex("00000000000000000000000000000000000008f5")
    storage_schema = {"settled": StorageValue("uint256"), "lastId": StorageValue("uint256"),
                      "lastStatus": StorageValue("uint8"), "sawStatus": StorageValue("uint8"),
                      "refuse": StorageValue("bool")}
    errors = (Refused,)

    @call("buy(address seller, address arbiter, uint64 deadline)", returns="uint256 id", weight=20_000, payable=True)
    def buy(self, ctx: CallContext, seller: str, arbiter: str, deadline: int) -> int:
        """Open an escrow for the caller with msg.value."""
        return open_escrow(ctx, buyer=ctx.sender, seller=seller, arbiter=arbiter, deadline=deadline, ref=REF,
                           amount=ctx.value)

    @call("info(uint256 id)", returns="address buyer, address opener, uint256 amount, uint8 status",
          weight=5_000, view=True)
    def info(self, ctx: CallContext, escrow_id: int) -> tuple:
        """Escrow id as the interface reads it."""
        e = get_escrow(ctx, escrow_id)
        return e.buyer, e.opener, e.amount, int(e.status)

    @call("settled()", returns="uint256 n, uint256 lastId, uint8 lastStatus, uint8 sawStatus", weight=5_000, view=True)
    def settled(self, ctx: CallContext) -> tuple:
        """What on_escrow_settled recorded."""
        s = ctx.storage
        return s.get_value("settled"), s.get_value("lastId"), s.get_value("lastStatus"), s.get_value("sawStatus")

    @call("setRefuse(bool refuse)", weight=5_000)
    def set_refuse(self, ctx: CallContext, refuse: bool) -> None:
        """Make the settlement hook fail."""
        ctx.storage.set_value("refuse", refuse)

    def on_escrow_settled(self, ctx: CallContext, escrow_id: int, status: EscrowStatus) -> None:
        if ctx.storage.get_value("refuse"):
            raise Refused(escrow_id)
        ctx.storage.set_value("settled", ctx.storage.get_value("settled") + 1)
        ctx.storage.set_value("lastId", escrow_id)
        ctx.storage.set_value("lastStatus", status)
        # reads escrow back through the interface: the status is already final
        ctx.storage.set_value("sawStatus", get_escrow(ctx, escrow_id).status)


class PlainShop(Pallet):
    """A test pallet that opens escrows but has no settlement hook."""
    name = "plainshop"
    address = bytes.fromhex("00000000000000000000000000000000000008f6")

    @call("buy(address seller, address arbiter, uint64 deadline)", returns="uint256 id", weight=20_000, payable=True)
    def buy(self, ctx: CallContext, seller: str, arbiter: str, deadline: int) -> int:
        """Open an escrow for the caller with msg.value."""
        return open_escrow(ctx, buyer=ctx.sender, seller=seller, arbiter=arbiter, deadline=deadline, ref=REF,
                           amount=ctx.value)


SHOP_ABI = compute_abi(Shop)


@pytest.fixture
def shop_rt(monkeypatch):
    evm.register_natives({**native_handlers(), Shop.address: Shop.handle, PlainShop.address: PlainShop.handle})
    # escrow finds the opener with get_pallet_at, which looks in PALLETS
    monkeypatch.setattr(runtime.pallets, "PALLETS", (*PALLETS, Shop, PlainShop))
    try:
        yield Runtime(accounts=3, pallets=(*PALLETS, Shop, PlainShop))
    finally:
        evm.register_natives(native_handlers())


def test_a_pallet_opens_an_escrow_for_its_buyer(shop_rt) -> None:
    rt = shop_rt
    buyer, seller, arbiter = rt.accounts
    before = rt.balances()
    r = rt.call(buyer, Shop, "buy", [checksum(seller), checksum(arbiter), rt.timestamp + 100], value=800)
    assert r.success, r.outcome
    assert r.values == (1,)
    (log,) = r.outcome.logs
    assert log.address == ESCROW_ADDRESS
    assert log.topics[2:] == (abi_encode(["address"], [buyer]), abi_encode(["address"], [seller]))
    assert rt.balance(ESCROW_ADDRESS) == 800 and rt.balance(Shop.address) == 0
    assert rt.balance(buyer) == before[buyer] - 800
    assert rt.view(Escrow, "escrow", 1)[0] == checksum(buyer).lower()  # the buyer, not the shop
    assert rt.view(Shop, "info", 1) == (checksum(buyer).lower(), checksum(Shop.address).lower(), 800, S.OPEN)
    assert rt.view(Shop, "info", 99) == (ZERO, ZERO, 0, S.NONE)  # the interface reads an unknown id as NONE
    # the interface's weight is charged on top of the shop's own
    assert r.outcome.gas_used >= 21_000 + 20_000 + WEIGHT_OPEN


def test_the_interface_checks_as_open_does(shop_rt) -> None:
    rt = shop_rt
    buyer, seller, arbiter = rt.accounts
    before = rt.balances()
    r = rt.call(buyer, Shop, "buy", [checksum(buyer), checksum(arbiter), rt.timestamp + 100], value=5)
    assert _err(r) == ("SellerIsBuyer", ())
    r = rt.call(buyer, Shop, "buy", [checksum(seller), checksum(arbiter), rt.timestamp + 100], value=0)
    assert _err(r) == ("ZeroAmount", ())
    assert rt.balances() == before


@pytest.mark.parametrize("flow, status", [("confirm", S.RELEASED), ("cancel", S.REFUNDED), ("resolve", S.RESOLVED),
                                          ("claim", S.RELEASED)])
def test_the_opener_hears_of_settlement(shop_rt, flow, status) -> None:
    rt = shop_rt
    buyer, seller, arbiter = rt.accounts
    rt.call(buyer, Shop, "buy", [checksum(seller), checksum(arbiter), rt.timestamp + 100], value=1000)
    assert rt.call(seller, Escrow, "markShipped", [1]).success if flow in ("claim", "confirm") else True
    assert rt.call(buyer, Escrow, "dispute", [1]).success if flow == "resolve" else True
    assert rt.view(Shop, "settled") == (0, 0, 0, 0)
    before = rt.balances()
    if flow == "confirm":
        r = rt.call(buyer, Escrow, "confirm", [1])
    elif flow == "cancel":
        r = rt.call(seller, Escrow, "cancel", [1])
    elif flow == "resolve":
        r = rt.call(arbiter, Escrow, "resolve", [1, 2500])
    else:
        rt.advance(7 * DAY + 1)
        r = rt.call(seller, Escrow, "claim", [1])
    assert r.success, r.outcome
    assert rt.view(Shop, "settled") == (1, 1, status, status)
    assert rt.balance(Shop.address) == 0 and rt.balance(ESCROW_ADDRESS) == 0
    assert sum(rt.balances().values()) == sum(before.values())
    if flow == "cancel":  # the refund goes to the buyer, not to the shop that opened it
        assert rt.balance(buyer) == before[buyer] + 1000


def test_no_hook_for_disputes_or_shipping(shop_rt) -> None:
    rt = shop_rt
    buyer, seller, arbiter = rt.accounts
    rt.call(buyer, Shop, "buy", [checksum(seller), checksum(arbiter), rt.timestamp + 100], value=1000)
    assert rt.call(seller, Escrow, "markShipped", [1]).success
    assert rt.call(buyer, Escrow, "dispute", [1]).success
    assert rt.view(Shop, "settled") == (0, 0, 0, 0)


def test_a_refusing_opener_fails_the_settlement(shop_rt) -> None:
    rt = shop_rt
    buyer, seller, arbiter = rt.accounts
    rt.call(buyer, Shop, "buy", [checksum(seller), checksum(arbiter), rt.timestamp + 100], value=1000)
    assert rt.call(buyer, Shop, "setRefuse", [True]).success
    before = rt.balances()
    r = rt.call(buyer, Escrow, "confirm", [1])
    assert not r.success and decode_error(SHOP_ABI, r.outcome.output) == ("Refused", (1,))
    assert rt.balances() == before
    assert _status(rt, 1) == S.OPEN
    assert rt.call(buyer, Shop, "setRefuse", [False]).success
    apply_paused(rt.state, Shop, True)  # a paused opener is still told: pausing it must not lock the funds
    rt.advance(0)
    assert rt.call(buyer, Escrow, "confirm", [1]).success
    assert rt.view(Shop, "settled")[0] == 1
    assert rt.balance(seller) == before[seller] + 1000


def test_an_opener_without_a_hook_settles_plainly(shop_rt) -> None:
    rt = shop_rt
    buyer, seller, arbiter = rt.accounts
    r = rt.call(buyer, PlainShop, "buy", [checksum(seller), checksum(arbiter), rt.timestamp + 100], value=300)
    assert r.success, r.outcome
    before = rt.balance(seller)
    assert rt.call(buyer, Escrow, "confirm", [1]).success
    assert rt.balance(seller) == before + 300


def test_the_interface_refuses_a_malformed_ref_or_deadline() -> None:
    # a bug in the calling pallet, raised before anything is entered or moved
    for ref, deadline in [(b"\x01", 1), (REF, 2**64)]:
        with pytest.raises(ValueError):
            open_escrow(None, buyer=ZERO, seller=ZERO, arbiter=ZERO, deadline=deadline, ref=ref,  # type: ignore[arg-type]
                        amount=1)


# ---- random call sequences against a model ----

N_ACCOUNTS = 4
WINDOW = 300
FINAL = (S.RELEASED, S.REFUNDED, S.RESOLVED)
ROLES = ["buyer", "seller", "arbiter", "other"]
ALLOWED_FROM = {"markShipped": (S.OPEN,), "confirm": (S.OPEN, S.SHIPPED), "claim": (S.SHIPPED,),
                "cancel": (S.OPEN,), "dispute": (S.OPEN, S.SHIPPED)}


class EscrowMachine(RuleBasedStateMachine):
    """A model of every escrow, checked against the pallet after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.rt = Runtime(accounts=N_ACCOUNTS, balance=10**20)
        apply_parameter(self.rt.state, Escrow, "confirmWindow", WINDOW)
        self.rt.advance(0)
        self.issuance = sum(self.rt.balances().values())
        self.model: dict[int, dict] = {}
        self.payouts: dict[int, int] = {}  # id -> settlements that moved funds out

    def _check(self, r, expected: str | None, before: dict) -> None:
        if expected is not None:
            assert _err(r)[0] == expected
            assert self.rt.balances() == before
        else:
            assert r.success, (r.outcome, decode_error(ABI, r.outcome.output) if r.outcome.output else None)

    def _pick(self, pick: int, *prefer: EscrowStatus) -> int:
        """Mostly an escrow whose status allows the call, so the calls that succeed get explored too."""
        ids = sorted(self.model)
        fitting = [i for i in ids if self.model[i]["status"] in prefer]
        if fitting and pick % 4:
            return fitting[(pick // 4) % len(fitting)]
        return ids[pick % len(ids)]

    @rule(roles=st.permutations(range(N_ACCOUNTS)), deadline_offset=st.integers(1, 2000),
          value=st.integers(1, 10**18),
          fault=st.sampled_from([None] * 4 + ["ZeroAmount", "SellerIsBuyer", "ArbiterIsParty", "DeadlineNotInFuture"]))
    def open(self, roles, deadline_offset, value, fault) -> None:
        buyer, seller, arbiter, other = (self.rt.accounts[i] for i in roles)
        deadline = self.rt.timestamp + deadline_offset
        if fault == "ZeroAmount":
            value = 0
        elif fault == "SellerIsBuyer":
            seller = buyer
        elif fault == "ArbiterIsParty":
            arbiter = seller if deadline_offset % 2 else buyer
        elif fault == "DeadlineNotInFuture":
            deadline = max(0, self.rt.timestamp - deadline_offset + 1)
        before = self.rt.balances()
        r = self.rt.call(buyer, Escrow, "open", [checksum(seller), checksum(arbiter), deadline, REF], value=value)
        self._check(r, fault, before)
        if fault is None:
            assert r.values == (len(self.model) + 1,)
            assert self.rt.balance(buyer) == before[buyer] - value
            self.model[r.values[0]] = dict(buyer=buyer, seller=seller, arbiter=arbiter, other=other, amount=value,
                                           deadline=deadline, status=S.OPEN, shipped_at=0)
            self.payouts[r.values[0]] = 0

    def _expected(self, name: str, e: dict, who: bytes, bps: int = 0) -> str | None:
        now, status = self.rt.timestamp, e["status"]
        if name == "markShipped":
            return "NotSeller" if who != e["seller"] else None if status == S.OPEN else "WrongStatus"
        if name == "confirm":
            return "NotBuyer" if who != e["buyer"] else None if status in (S.OPEN, S.SHIPPED) else "WrongStatus"
        if name == "claim":
            return ("NotSeller" if who != e["seller"] else "WrongStatus" if status != S.SHIPPED
                    else "ConfirmWindowOpen" if now <= e["shipped_at"] + WINDOW else None)
        if name == "cancel":
            return ("NotParty" if who not in (e["buyer"], e["seller"]) else "WrongStatus" if status != S.OPEN
                    else "DeadlineNotPassed" if who == e["buyer"] and now <= e["deadline"] else None)
        if name == "dispute":
            return ("NotParty" if who not in (e["buyer"], e["seller"])
                    else None if status in (S.OPEN, S.SHIPPED) else "WrongStatus")
        assert name == "resolve"
        return ("NotArbiter" if who != e["arbiter"] else "BpsOutOfRange" if bps > 10_000
                else None if status == S.DISPUTED else "WrongStatus")

    def _act(self, name: str, pick: int, role: str) -> None:
        eid = self._pick(pick, *ALLOWED_FROM[name])
        e = self.model[eid]
        who = e[role]
        before = self.rt.balances()
        if pick % 11 == 0:  # now and then an id no escrow has
            unknown = len(self.model) + 1 + pick // 11
            self._check(self.rt.call(who, Escrow, name, [unknown]), "UnknownEscrow", before)
            return
        expected = self._expected(name, e, who)
        self._check(self.rt.call(who, Escrow, name, [eid]), expected, before)
        if expected is not None:
            return
        if name == "markShipped":
            e["status"], e["shipped_at"] = S.SHIPPED, self.rt.timestamp
        elif name == "dispute":
            e["status"] = S.DISPUTED
        else:
            to = e["buyer"] if name == "cancel" else e["seller"]
            e["status"] = S.REFUNDED if name == "cancel" else S.RELEASED
            self.payouts[eid] += 1
            assert self.rt.balance(to) == before[to] + e["amount"]
        assert self.rt.balances() == before or e["status"] in FINAL

    # each rule mostly calls as the party allowed to, sometimes as anyone
    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), role=st.sampled_from(["seller"] * 4 + ROLES))
    def mark_shipped(self, pick, role) -> None:
        self._act("markShipped", pick, role)

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), role=st.sampled_from(["buyer"] * 4 + ROLES))
    def confirm(self, pick, role) -> None:
        self._act("confirm", pick, role)

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), role=st.sampled_from(["seller"] * 4 + ROLES))
    def claim(self, pick, role) -> None:
        self._act("claim", pick, role)

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), role=st.sampled_from(["buyer", "seller"] * 2 + ROLES))
    def cancel(self, pick, role) -> None:
        self._act("cancel", pick, role)

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), role=st.sampled_from(["buyer", "seller"] * 2 + ROLES))
    def dispute(self, pick, role) -> None:
        self._act("dispute", pick, role)

    @precondition(lambda self: self.model)
    @rule(pick=st.integers(0, 10**6), role=st.sampled_from(["arbiter"] * 4 + ROLES),
          bps=st.one_of(st.integers(0, 10_000), st.integers(10_001, 65_535), st.sampled_from([0, 3000, 10_000])))
    def resolve(self, pick, role, bps) -> None:
        eid = self._pick(pick, S.DISPUTED)
        e = self.model[eid]
        who = e[role]
        before = self.rt.balances()
        expected = self._expected("resolve", e, who, bps)
        self._check(self.rt.call(who, Escrow, "resolve", [eid, bps]), expected, before)
        if expected is None:
            e["status"] = S.RESOLVED
            self.payouts[eid] += 1
            to_buyer = e["amount"] * bps // 10_000
            assert self.rt.balance(e["buyer"]) == before[e["buyer"]] + to_buyer
            assert self.rt.balance(e["seller"]) == before[e["seller"]] + e["amount"] - to_buyer

    @rule(seconds=st.integers(1, 400))
    def advance(self, seconds) -> None:
        self.rt.advance(seconds)

    @invariant()
    def issuance_is_conserved(self) -> None:
        assert sum(self.rt.balances().values()) == self.issuance

    @invariant()
    def pallet_holds_exactly_the_unsettled_escrows(self) -> None:
        held = sum(e["amount"] for e in self.model.values() if e["status"] not in FINAL)
        assert self.rt.balance(ESCROW_ADDRESS) == held

    @invariant()
    def each_escrow_pays_out_at_most_once(self) -> None:
        for eid, e in self.model.items():
            assert self.payouts[eid] == (1 if e["status"] in FINAL else 0)
            stored = self.rt.view(Escrow, "escrow", eid)
            assert (stored[3], stored[6], stored[7]) == (e["amount"], e["status"], e["shipped_at"])


EscrowMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestEscrowMachine = EscrowMachine.TestCase
