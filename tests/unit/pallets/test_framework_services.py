"""What the framework gives every pallet: string storage, parameters, pause, calls between
pallets through Python interfaces, and a genesis section in the chain spec."""
from __future__ import annotations

import pytest
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB

from runtime.chainspec import parse_chain_spec
from runtime.errors import InvalidChainSpec
from runtime.pallets import native_handlers
from runtime.pallets.framework import (
    CallContext,
    Pallet,
    Parameter,
    StorageMap,
    StorageValue,
    apply_parameter,
    apply_paused,
    call,
    encode_parameter_key,
    error,
    event,
    get_parameter,
)
from runtime.pallets.vesting import VESTING_ADDRESS, Vesting
from runtime.state.store import MemoryStore, StateDB
from tests.unit.pallets.harness import Runtime, checksum
from tests.unit.pallets.test_framework import decode_error
from runtime.pallets import compute_abi
from vm import evm

Stored = event("Stored(uint256 indexed id)")
TooLong = error("TooLong(uint256 length)")


class Notes(Pallet):
    """A test pallet: notes of any length, a parameter, and a call into Counter's interface."""
    name = "notes"
    address = bytes.fromhex("00000000000000000000000000000000000008f1")
    storage_schema = {"notes": StorageMap(("uint256",), (("author", "address"), ("text", "string"), ("blob", "bytes")))}
    parameters = {"maxLength": Parameter(64, minimum=1, maximum=1024)}
    events = (Stored,)
    errors = (TooLong,)

    @call("put(uint256 id, string text, bytes blob)", weight=30_000)
    def put(self, ctx: CallContext, note_id: int, text: str, blob: bytes) -> None:
        """Store a note."""
        if len(text.encode()) > ctx.param("maxLength"):
            raise TooLong(len(text.encode()))
        ctx.storage.set_struct("notes", {"author": ctx.sender, "text": text, "blob": blob}, note_id)
        ctx.emit(Stored, id=note_id)

    @call("get(uint256 id)", returns="address author, string text, bytes blob", weight=5_000, view=True)
    def get(self, ctx: CallContext, note_id: int) -> tuple:
        """Read a note."""
        n = ctx.storage.get_struct("notes", note_id)
        return n["author"], n["text"], n["blob"]

    @call("bump()", weight=10_000, payable=True)
    def bump(self, ctx: CallContext) -> None:
        """Count one on Counter, forwarding msg.value, through Counter's Python interface."""
        counter_increment(ctx, ctx.value)


class Counter(Pallet):
    name = "counter"
    address = bytes.fromhex("00000000000000000000000000000000000008f2")
    storage_schema = {"count": StorageValue("uint256"), "lastCaller": StorageValue("address"),
                      "held": StorageValue("uint256")}

    @call("count()", returns="uint256 n", weight=2_000, view=True)
    def count(self, ctx: CallContext) -> int:
        """The count."""
        return ctx.storage.get_value("count")

    @call("lastCaller()", returns="address who", weight=2_000, view=True)
    def last_caller(self, ctx: CallContext) -> str:
        """Who counted last."""
        return ctx.storage.get_value("lastCaller")


def counter_increment(ctx: CallContext, value: int) -> None:
    """Counter's Python interface: what another pallet calls instead of touching its storage."""
    inner = ctx.enter(Counter, weight=7_000, value=value)
    inner.storage.set_value("count", inner.storage.get_value("count") + 1)
    inner.storage.set_value("lastCaller", inner.sender)
    inner.storage.set_value("held", inner.storage.get_value("held") + inner.value)


@pytest.fixture
def rt():
    evm.register_natives({**native_handlers(), Notes.address: Notes.handle, Counter.address: Counter.handle})
    try:
        yield Runtime(pallets=(Notes, Counter, Vesting))
    finally:
        evm.register_natives(native_handlers())


ABI = compute_abi(Notes)


@pytest.mark.parametrize("text", ["", "short", "x" * 31, "y" * 32, "z" * 33, "ünïcødé " * 4])
def test_strings_and_bytes_round_trip(rt, text) -> None:
    blob = bytes(range(70))
    assert rt.call(rt.accounts[0], Notes, "put", [1, text, blob]).success
    assert rt.view(Notes, "get", 1) == (checksum(rt.accounts[0]).lower(), text, blob)


def test_a_shorter_value_leaves_no_stale_words(rt) -> None:
    rt.call(rt.accounts[0], Notes, "put", [1, "a" * 60, b"\x01" * 90])
    rt.call(rt.accounts[0], Notes, "put", [1, "b", b""])
    assert rt.view(Notes, "get", 1)[1:] == ("b", b"")
    # The same short value written on a fresh pallet gives the same storage trie: nothing is left over.
    other = Runtime(pallets=(Notes, Counter, Vesting))
    other.call(other.accounts[0], Notes, "put", [1, "b", b""])
    assert _storage_root(rt) == _storage_root(other)


def _storage_root(rt: Runtime) -> bytes:
    return rt.state._account_db._get_storage_root(Notes.address)  # noqa: SLF001


def test_parameters_default_then_set(rt) -> None:
    assert get_parameter(rt.state, Notes, "maxLength") == 64
    assert decode_error(ABI, rt.call(rt.accounts[0], Notes, "put", [1, "x" * 65, b""]).outcome.output) == \
        ("TooLong", (65,))
    apply_parameter(rt.state, Notes, "maxLength", 100)
    rt._reopen()
    assert rt.call(rt.accounts[0], Notes, "put", [1, "x" * 65, b""]).success
    apply_parameter(rt.state, Notes, "maxLength", 0)  # zero is a value, not "unset"
    assert get_parameter(rt.state, Notes, "maxLength") == 0
    assert encode_parameter_key("maxLength") == b"maxLength".ljust(32, b"\x00")


def test_a_paused_pallet_refuses_writes_but_answers_views(rt) -> None:
    a = rt.accounts[0]
    assert rt.call(a, Notes, "put", [1, "hi", b""]).success
    apply_paused(rt.state, Notes, True)
    rt._reopen()
    before = rt.balances()
    r = rt.call(a, Notes, "put", [2, "no", b""])
    assert decode_error(ABI, r.outcome.output) == ("Paused", (checksum(Notes.address).lower(),))
    assert rt.balances() == before
    assert rt.view(Notes, "get", 1)[1] == "hi"
    apply_paused(rt.state, Notes, False)
    rt._reopen()
    assert rt.call(a, Notes, "put", [2, "yes", b""]).success


def test_a_pallet_calls_another_through_its_interface(rt) -> None:
    a = rt.accounts[0]
    r = rt.call(a, Notes, "bump", [], value=123)
    assert r.success, r.outcome
    assert rt.view(Counter, "count") == 1
    assert rt.view(Counter, "lastCaller") == checksum(Notes.address).lower()  # the caller is the pallet, not the user
    assert rt.balance(Counter.address) == 123 and rt.balance(Notes.address) == 0
    # The interface call's weight is charged on top of bump's own.
    assert r.outcome.gas_used >= 21_000 + 10_000 + 7_000


def test_a_paused_callee_fails_the_whole_call(rt) -> None:
    apply_paused(rt.state, Counter, True)
    rt._reopen()
    before = rt.balances()
    r = rt.call(rt.accounts[0], Notes, "bump", [], value=5)
    assert decode_error(ABI, r.outcome.output) == ("Paused", (checksum(Counter.address).lower(),))
    assert rt.balances() == before
    assert rt.view(Counter, "count") == 0


# ---- genesis sections ----

BASE = {"name": "t", "chainId": 7, "gasLimit": 30_000_000, "baseFeePerGas": 0, "consensus": {"engine": "dev"}}


def _spec(pallets):
    return parse_chain_spec({**BASE, "pallets": pallets})


@pytest.mark.parametrize("pallets, field", [
    ({"nope": {}}, "pallets.nope"),
    ({"vesting": []}, "pallets.vesting"),
    ({"vesting": {"surprise": 1}}, "pallets.vesting.surprise"),
    ({"vesting": {"schedules": {}}}, "pallets.vesting.schedules"),
    ({"vesting": {"schedules": [{"beneficiary": "0x" + "11" * 20, "amount": 5}]}},
     "pallets.vesting.schedules[0].durationSeconds"),
    ({"vesting": {"schedules": [{"beneficiary": "0x12", "amount": 5, "durationSeconds": 9}]}},
     "pallets.vesting.schedules[0].beneficiary"),
    ({"vesting": {"schedules": [{"beneficiary": "0x" + "11" * 20, "amount": -1, "durationSeconds": 9}]}},
     "pallets.vesting.schedules[0].amount"),
    ({"vesting": {"schedules": [{"beneficiary": "0x" + "11" * 20, "amount": 5, "durationSeconds": 9,
                                 "revocable": True}]}}, "pallets.vesting.schedules[0].revocable"),
    ({"vesting": {"schedules": [{"beneficiary": "0x" + "11" * 20, "amount": 2**128, "durationSeconds": 9}]}},
     "pallets.vesting.schedules[0].amount"),  # stored as a uint128
])
def test_bad_genesis_sections_are_refused_by_field(pallets, field) -> None:
    with pytest.raises(InvalidChainSpec) as info:
        _spec(pallets)
    assert info.value.field == field, str(info.value)


def test_genesis_schedules_are_live_at_block_one() -> None:
    from runtime.executive import build_genesis

    ben = "0x" + "11" * 20
    spec = _spec({"vesting": {"schedules": [
        {"beneficiary": ben, "amount": "1000", "start": 0, "durationSeconds": 100},
        {"beneficiary": ben, "amount": 500, "start": 0, "cliffSeconds": 10, "durationSeconds": 10,
         "creator": "0x" + "22" * 20, "revocable": True},
    ]}})
    store = MemoryStore()
    header, writes = build_genesis(spec, store)
    store.write(writes)
    accounts = AccountDB(AtomicDB(StateDB(store)), header.state_root)
    assert accounts.get_balance(VESTING_ADDRESS) == 1500
    rt = Runtime(pallets=(Vesting,))
    rt.db = AtomicDB(StateDB(store))
    rt.state = rt._open(header.state_root)
    assert rt.view(Vesting, "schedulesOf", ben) == (1, 2)
    assert rt.view(Vesting, "releasable", 1) == 1000  # the harness clock is far past start + duration
    assert rt.call(rt.accounts[0], Vesting, "release", [2]).values == (500,)
    assert rt.balance(bytes.fromhex(ben[2:])) == 500
    # Same spec, same root: genesis is deterministic; the section changes it.
    assert build_genesis(spec, MemoryStore())[0].state_root == header.state_root
    assert build_genesis(_spec({}), MemoryStore())[0].state_root != header.state_root
