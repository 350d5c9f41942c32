"""Metered pallet storage, logs and payments: a call costs its fixed weight plus what the EVM
charges for the same effects (EIP-2929 cold/warm, EIP-2200/3529 SSTORE, LOGn, CALL value)."""
from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode

from runtime.pallets import native_handlers
from runtime.pallets.framework import (
    COLD_ACCOUNT_ACCESS_COST,
    COLD_SLOAD_COST,
    GAS_CALLSTIPEND,
    GAS_CALLVALUE,
    GAS_NEWACCOUNT,
    SSTORE_CLEARS_SCHEDULE,
    SSTORE_RESET_GAS,
    SSTORE_SET_GAS,
    WARM_STORAGE_READ_COST,
    CallContext,
    Pallet,
    StorageMap,
    StorageValue,
    _chunk_base,
    _slot,
    call,
    compute_layout,
    compute_log_cost,
    compute_sstore_cost,
    event,
)
from tests.unit.pallets.test_framework import decode_error
from runtime.pallets import compute_abi
from tests.unit.pallets.harness import Runtime, checksum
from vm import evm

W = 1_000  # every Meter call's weight
Logged = event("Logged(bytes data)")
Logged2 = event("Logged2(uint256 indexed a, address indexed b, bytes data)")
REC_FIELDS = (("owner", "address"), ("when", "uint64"), ("flag", "bool"), ("amount", "uint256"),
              ("count", "uint32"), ("id", "bytes4"), ("note", "string"))


class Meter(Pallet):
    """A test pallet whose calls do one kind of storage, log or payment each."""
    name = "meter"
    address = bytes.fromhex("00000000000000000000000000000000000008f3")
    storage_schema = {"words": StorageValue("uint256", keys=("uint256",)), "recs": StorageMap(("uint256",), REC_FIELDS)}

    @call("read(uint256 key, uint8 times)", returns="uint256 value", weight=W, view=True)
    def read(self, ctx: CallContext, key: int, times: int) -> int:
        """Read one word ``times`` times."""
        value = 0
        for _ in range(times):
            value = ctx.storage.get_value("words", key)
        return value

    @call("write(uint256 key, uint256 value)", weight=W)
    def write(self, ctx: CallContext, key: int, value: int) -> None:
        """One SSTORE."""
        ctx.storage.set_value("words", value, key)

    @call("writeTwice(uint256 key, uint256 first, uint256 second)", weight=W)
    def write_twice(self, ctx: CallContext, key: int, first: int, second: int) -> None:
        """Two SSTOREs of one slot."""
        ctx.storage.set_value("words", first, key)
        ctx.storage.set_value("words", second, key)

    @call("setRec(uint256 key, address owner, uint64 when, bool flag, uint256 amount, uint32 count, bytes4 id, "
          "string note)", weight=W)
    def set_rec(self, ctx: CallContext, key: int, owner: str, when: int, flag: bool, amount: int, count: int,
                id_: bytes, note: str) -> None:
        """Write a whole record."""
        ctx.storage.set_struct("recs", {"owner": owner, "when": when, "flag": flag, "amount": amount, "count": count,
                                        "id": id_, "note": note}, key)

    @call("setWhen(uint256 key, uint64 when)", weight=W)
    def set_when(self, ctx: CallContext, key: int, when: int) -> None:
        """Write one packed field."""
        ctx.storage.set_struct("recs", {"when": when}, key)

    @call("setCount(uint256 key, uint256 count)", weight=W)
    def set_count(self, ctx: CallContext, key: int, count: int) -> None:
        """Write the uint32 field from a uint256 (too wide: the call reverts)."""
        ctx.storage.set_struct("recs", {"when": 1, "count": count}, key)

    @call("rec(uint256 key)", returns="address owner, uint64 when, bool flag, uint256 amount, uint32 count, "
          "bytes4 id, string note", weight=W, view=True)
    def rec(self, ctx: CallContext, key: int) -> tuple:
        """Read a whole record."""
        r = ctx.storage.get_struct("recs", key)
        return tuple(r[f] for f, _ in REC_FIELDS)

    @call("whenOf(uint256 key)", returns="uint64 when", weight=W, view=True)
    def when_of(self, ctx: CallContext, key: int) -> int:
        """Read one packed field: one slot."""
        return ctx.storage.get_struct("recs", key, fields=("when",))["when"]

    @call("log(bytes data)", weight=W)
    def log(self, ctx: CallContext, data: bytes) -> None:
        """One LOG1."""
        ctx.emit(Logged, data=data)

    @call("log3(bytes data)", weight=W)
    def log3(self, ctx: CallContext, data: bytes) -> None:
        """One LOG3."""
        ctx.emit(Logged2, a=7, b=ctx.sender, data=data)

    @call("payOut(address to)", weight=W, payable=True)
    def pay_out(self, ctx: CallContext, to: str) -> None:
        """Pass msg.value on to ``to``."""
        ctx.pay(to, ctx.value)


# PUSH1 0x20 CALLDATALOAD PUSH1 0 CALLDATALOAD SSTORE STOP: sstore(calldata[0:32], calldata[32:64])
SSTORE_CODE = bytes.fromhex("602035600035" "55" "00")
SSTORE_CODE_OPCODES_GAS = 4 * 3  # two PUSH1, two CALLDATALOAD
CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")


@pytest.fixture
def rt():
    evm.register_natives({**native_handlers(), Meter.address: Meter.handle})
    try:
        runtime = Runtime(pallets=(Meter,))
        runtime.state.set_code(CONTRACT, SSTORE_CODE)
        runtime._reopen()
        yield runtime
    finally:
        evm.register_natives(native_handlers())


def intrinsic(data: bytes) -> int:
    return 21_000 + sum(16 if b else 4 for b in data)


def calldata_floor(data: bytes) -> int:
    """EIP-7623 (Prague): a transaction pays at least 21,000 + 10 a calldata token."""
    return 21_000 + 10 * sum(4 if b else 1 for b in data)


def metered(rt: Runtime, sender: bytes, name: str, args: list, value: int = 0, *, writes: bool = True) -> int:
    """Gas the call used beyond its intrinsic cost, its weight and (a call that writes) the paused-flag read."""
    spec = next(c for c in Meter.calls if c.name == name)
    data = spec.selector + abi_encode([a.type for a in spec.inputs], args)
    out = rt.raw_call(sender, Meter.address, data, value)
    assert out.success, out
    return out.gas_used - intrinsic(data) - W - (COLD_SLOAD_COST if writes else 0)


def test_sstore_cost_table() -> None:
    assert compute_sstore_cost(0, 0, 5) == (SSTORE_SET_GAS, 0)
    assert compute_sstore_cost(5, 5, 7) == (SSTORE_RESET_GAS, 0)
    assert compute_sstore_cost(5, 5, 5) == (WARM_STORAGE_READ_COST, 0)
    assert compute_sstore_cost(5, 5, 0) == (SSTORE_RESET_GAS, SSTORE_CLEARS_SCHEDULE)
    assert compute_sstore_cost(0, 5, 7) == (WARM_STORAGE_READ_COST, 0)  # dirty
    assert compute_sstore_cost(0, 5, 0) == (WARM_STORAGE_READ_COST, SSTORE_SET_GAS - WARM_STORAGE_READ_COST)
    assert compute_sstore_cost(5, 0, 5) == (WARM_STORAGE_READ_COST, SSTORE_RESET_GAS - WARM_STORAGE_READ_COST
                                            - SSTORE_CLEARS_SCHEDULE)


def test_cold_then_warm_reads(rt) -> None:
    a = rt.accounts[0]
    assert metered(rt, a, "read", [1, 1], writes=False) == COLD_SLOAD_COST
    assert metered(rt, a, "read", [1, 3], writes=False) == COLD_SLOAD_COST + 2 * WARM_STORAGE_READ_COST
    # each transaction starts cold again
    assert metered(rt, a, "read", [1, 1], writes=False) == COLD_SLOAD_COST


def test_sstore_set_reset_noop_and_clear(rt) -> None:
    a = rt.accounts[0]
    assert metered(rt, a, "write", [1, 5]) == COLD_SLOAD_COST + SSTORE_SET_GAS          # 0 -> x: 22,100
    assert metered(rt, a, "write", [1, 7]) == COLD_SLOAD_COST + SSTORE_RESET_GAS        # x -> y: 5,000
    assert metered(rt, a, "write", [1, 7]) == COLD_SLOAD_COST + WARM_STORAGE_READ_COST  # x -> x: 2,200
    # x -> 0 costs 5,000 and refunds 4,800 (under a fifth of the gas used: all of it)
    assert metered(rt, a, "write", [1, 0]) == COLD_SLOAD_COST + SSTORE_RESET_GAS - SSTORE_CLEARS_SCHEDULE
    # a dirty slot costs 100: 0 -> 5 -> 6 in one transaction
    assert metered(rt, a, "writeTwice", [2, 5, 6]) == COLD_SLOAD_COST + SSTORE_SET_GAS + WARM_STORAGE_READ_COST


@pytest.mark.parametrize("values", [(5, 7, 7, 0), (9, 9, 0, 0), (1, 2, 3, 0)])
def test_same_storage_effect_costs_what_an_evm_contract_pays(rt, values) -> None:
    """The pallet writing a slot costs what a contract's SSTORE of it costs, less the fixed weight."""
    a = rt.accounts[0]
    key = 3
    slot = _slot(Meter.name, "words", ("uint256",), (key,))
    for value in values:
        pallet_gas = metered(rt, a, "write", [key, value])
        data = slot.to_bytes(32, "big") + value.to_bytes(32, "big")
        out = rt.raw_call(a, CONTRACT, data)
        assert out.success, out
        # (a refunded clear can take the contract's transaction under its EIP-7623 calldata floor)
        assert out.gas_used == max(intrinsic(data) + SSTORE_CODE_OPCODES_GAS + pallet_gas, calldata_floor(data))
        assert rt.state.get_storage(CONTRACT, slot) == rt.state.get_storage(Meter.address, slot) == value


def test_solidity_packing_layout() -> None:
    layout = {f.name: (f.slot, f.offset, f.size) for f in compute_layout(REC_FIELDS)}
    assert layout == {"owner": (0, 0, 20), "when": (0, 20, 8), "flag": (0, 28, 1), "amount": (1, 0, 32),
                      "count": (2, 0, 4), "id": (2, 4, 4), "note": (3, 0, 32)}
    # a field that does not fit starts the next slot; a full-width one takes its own
    assert [(f.slot, f.offset) for f in compute_layout((("a", "uint128"), ("b", "uint136"), ("c", "uint8")))] == \
        [(0, 0), (1, 0), (1, 17)]
    assert [(f.slot, f.offset) for f in compute_layout((("a", "bool"), ("b", "bytes32"), ("c", "bool")))] == \
        [(0, 0), (1, 0), (2, 0)]


def test_packed_struct_round_trip_and_partial_update(rt) -> None:
    a, b, _ = rt.accounts
    base = _slot(Meter.name, "recs", ("uint256",), (1,))
    record = [checksum(b), 2**64 - 1, True, 2**256 - 1, 2**32 - 2, b"\xde\xad\xbe\xef", "a short note"]
    rt.call(a, Meter, "setRec", [1, *record])
    got = rt.view(Meter, "rec", 1)
    assert got[0].lower() == checksum(b).lower() and list(got[1:]) == record[1:]
    word0 = rt.state.get_storage(Meter.address, base)
    assert word0 == int.from_bytes(b, "big") | (2**64 - 1) << 160 | 1 << 224  # low-order first, as Solidity
    assert rt.state.get_storage(Meter.address, base + 2) == (2**32 - 2) | 0xDEADBEEF << 32
    note = "a short note".encode()
    inline = note.ljust(31, b"\x00") + bytes([2 * len(note)])  # a short string: in its slot, length * 2 low
    assert rt.state.get_storage(Meter.address, base + 3) == int.from_bytes(inline, "big")
    before = [rt.state.get_storage(Meter.address, base + i) for i in range(4)]
    # one packed field: a read-modify-write of its slot only (cold read, then a warm clean x -> y)
    assert metered(rt, a, "setWhen", [1, 12345]) == COLD_SLOAD_COST + SSTORE_RESET_GAS
    after = [rt.state.get_storage(Meter.address, base + i) for i in range(4)]
    assert after[1:] == before[1:] and after[0] != before[0]
    got = rt.view(Meter, "rec", 1)
    assert got[1] == 12345 and got[2] is True and got[0].lower() == checksum(b).lower()
    # one field read is one slot
    assert metered(rt, a, "whenOf", [1], writes=False) == COLD_SLOAD_COST
    # the whole record: four slots, each read once
    assert metered(rt, a, "rec", [1], writes=False) == 4 * COLD_SLOAD_COST


def test_long_strings_use_solidity_chunks(rt) -> None:
    a, b, _ = rt.accounts
    base = _slot(Meter.name, "recs", ("uint256",), (2,))
    long_note = "x" * 70
    rt.call(a, Meter, "setRec", [2, checksum(b), 1, False, 0, 0, b"\x00" * 4, long_note])
    assert rt.view(Meter, "rec", 2)[6] == long_note
    assert rt.state.get_storage(Meter.address, base + 3) == 2 * 70 + 1
    # shortened: the chunks go back to zero
    rt.call(a, Meter, "setRec", [2, checksum(b), 1, False, 0, 0, b"\x00" * 4, "y"])
    assert rt.view(Meter, "rec", 2)[6] == "y"
    chunks = _chunk_base(base + 3)
    assert [rt.state.get_storage(Meter.address, chunks + i) for i in range(3)] == [0, 0, 0]
    assert rt.state.get_storage(Meter.address, base + 3) == int.from_bytes(b"y".ljust(31, b"\x00") + b"\x02", "big")


def test_logs_are_charged_per_topic_and_byte(rt) -> None:
    a = rt.accounts[0]
    for data in (b"", b"\x01" * 10, b"\x02" * 100):
        encoded = len(abi_encode(["bytes"], [data]))
        assert metered(rt, a, "log", [data]) == compute_log_cost(1, encoded) == 375 + 375 + 8 * encoded
        assert metered(rt, a, "log3", [data]) == compute_log_cost(3, encoded) == 375 + 3 * 375 + 8 * encoded


def test_payments_are_charged_as_a_value_call(rt) -> None:
    a, b, _ = rt.accounts
    fresh = b"\x77" * 20
    value_cost = GAS_CALLVALUE - GAS_CALLSTIPEND
    assert metered(rt, a, "payOut", [checksum(fresh)], 10) == COLD_ACCOUNT_ACCESS_COST + value_cost + GAS_NEWACCOUNT
    assert metered(rt, a, "payOut", [checksum(fresh)], 10) == COLD_ACCOUNT_ACCESS_COST + value_cost
    assert rt.balance(fresh) == 20


def test_genesis_writes_are_free() -> None:
    from eth.db.account import AccountDB
    from eth.db.atomic import AtomicDB

    from runtime.pallets.framework import GenesisContext
    accounts = AccountDB(AtomicDB())
    ctx = GenesisContext(Meter, accounts)
    ctx.storage.set_struct("recs", {"when": 5, "note": "n" * 40}, 1)  # no computation to charge: no error
    assert ctx.storage.get_struct("recs", 1, fields=("when", "note")) == {"when": 5, "note": "n" * 40}


def test_a_value_too_wide_for_its_field_reverts_and_writes_nothing(rt) -> None:
    a = rt.accounts[0]
    base = _slot(Meter.name, "recs", ("uint256",), (4,))
    assert rt.call(a, Meter, "setCount", [4, 2**32 - 1]).success
    bad = rt.call(a, Meter, "setCount", [4, 2**32])
    assert not bad.success
    assert decode_error(compute_abi(Meter), bad.outcome.output) == ("ValueOutOfRange", ("count",))
    assert rt.state.get_storage(Meter.address, base + 2) == 2**32 - 1
