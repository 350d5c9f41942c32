"""The pallet framework: generated ABI, dispatch, gas, custom errors, value, rollback."""
from __future__ import annotations

import json

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak

from runtime.pallets import PALLETS, compute_abi, compute_artifacts, native_handlers, write_artifacts
from runtime.pallets.framework import COLD_SLOAD_COST, PALLET_CODE, Pallet, StorageValue, call, error, event
from runtime.pallets.vesting import VESTING_ADDRESS, Vesting
from tests.unit.pallets.harness import Runtime, checksum

EXPECTED_FUNCTIONS = {
    "createSchedule(address,uint64,uint64,uint64,bool)": "payable",
    "release(uint256)": "nonpayable",
    "revoke(uint256)": "nonpayable",
    "schedule(uint256)": "view",
    "releasable(uint256)": "view",
    "schedulesOf(address)": "view",
}


def decode_error(abi: list[dict], data: bytes) -> tuple[str, tuple]:
    """What ethers/web3 do with revert data: find the ABI error whose selector leads it."""
    for item in abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            sig = f"{item['name']}({','.join(types)})"
            if function_signature_to_4byte_selector(sig) == data[:4]:
                return item["name"], tuple(abi_decode(types, data[4:]))
    raise AssertionError(f"no ABI error matches {data.hex()}")


def test_abi_is_the_declared_interface() -> None:
    abi = compute_abi(Vesting)
    functions = {f"{i['name']}({','.join(x['type'] for x in i['inputs'])})": i["stateMutability"]
                 for i in abi if i["type"] == "function"}
    assert functions == EXPECTED_FUNCTIONS
    events = {i["name"]: [(x["type"], x["indexed"]) for x in i["inputs"]] for i in abi if i["type"] == "event"}
    assert events["ScheduleCreated"] == [("uint256", True), ("address", True), ("address", True), ("uint256", False)]
    assert events["Released"] == [("uint256", True), ("uint256", False)]
    assert events["Revoked"] == [("uint256", True), ("uint256", False)]
    names = [i["name"] for i in abi if i["type"] == "error"]
    assert "NotCreator" in names and names == sorted(names)


def test_artifacts_are_deterministic_and_written(tmp_path) -> None:
    assert compute_artifacts(Vesting) == compute_artifacts(Vesting)
    paths = write_artifacts(tmp_path)
    assert {p.name for p in paths} == {name for pallet in PALLETS for name in compute_artifacts(pallet)}
    assert {"vesting.abi.json", "IVesting.sol", "escrow.abi.json", "IStores.sol", "IGovernance.sol"} <= {p.name for p in paths}
    assert json.loads((tmp_path / "vesting.abi.json").read_text()) == compute_abi(Vesting)
    sol = (tmp_path / "IVesting.sol").read_text()
    assert "interface IVesting {" in sol
    assert "function createSchedule(address beneficiary, uint64 start, uint64 cliffSeconds, uint64 durationSeconds, bool revocable) external payable returns (uint256 id);" in sol
    assert "function schedulesOf(address account) external view returns (uint256[] memory ids);" in sol
    assert "error NotCreator(uint256 id);" in sol


def test_registry() -> None:
    assert native_handlers() == {p.address: p.handle for p in PALLETS}
    assert len({p.address for p in PALLETS}) == len(PALLETS)
    assert {p.name: p.address.hex() for p in PALLETS} == {
        "vesting": "0000000000000000000000000000000000000801", "escrow": "0000000000000000000000000000000000000802",
        "stores": "0000000000000000000000000000000000000803", "governance": "0000000000000000000000000000000000000804",
    }


def test_dispatch_returns_abi_encoded_results_and_logs() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    r = rt.call(a, Vesting, "createSchedule", [checksum(b), rt.timestamp, 0, 100, False], value=1000)
    assert r.success and r.values == (1,)
    (log,) = r.outcome.logs
    assert log.address == VESTING_ADDRESS
    assert log.topics[0] == keccak(text="ScheduleCreated(uint256,address,address,uint256)")
    assert log.topics[1:] == (abi_encode(["uint256"], [1]), abi_encode(["address"], [a]), abi_encode(["address"], [b]))
    assert abi_decode(["uint256"], log.data) == (1000,)


def test_weight_is_charged_as_gas() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    data = Vesting._by_selector  # selector -> spec
    spec = next(s for s in data.values() if s.name == "releasable")
    cheap = rt.raw_call(a, VESTING_ADDRESS, spec.selector + abi_encode(["uint256"], [1]))
    intrinsic = 21_000 + 16 * 4 + 4 * 31 + 16 * 1  # selector + 31 zero bytes + one nonzero
    assert not cheap.success  # unknown schedule: reverts, but the weight and the reads are still charged
    # the reads: the schedule's slot of times and flags, and of total and released (cold SLOADs)
    assert cheap.gas_used == intrinsic + spec.weight + 2 * COLD_SLOAD_COST
    starved = rt.raw_call(a, VESTING_ADDRESS, spec.selector + abi_encode(["uint256"], [1]), gas=intrinsic + 100)
    assert not starved.success and starved.error == "out of gas"


def test_custom_errors_decode_by_name_and_change_nothing() -> None:
    rt = Runtime()
    a, b, c = rt.accounts
    rt.call(a, Vesting, "createSchedule", [checksum(b), rt.timestamp, 0, 100, True], value=1000)
    before = rt.balances()
    abi = compute_abi(Vesting)
    r = rt.call(c, Vesting, "revoke", [1])
    assert not r.success and r.outcome.error == "execution reverted"
    assert decode_error(abi, r.outcome.output) == ("NotCreator", (1,))
    assert decode_error(abi, rt.call(c, Vesting, "release", [7]).outcome.output) == ("UnknownSchedule", (7,))
    assert rt.balances() == before
    assert rt.view(Vesting, "schedule", 1)[6] is False  # not revoked


def test_value_on_non_payable_call_reverts_and_returns_the_value() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    rt.call(a, Vesting, "createSchedule", [checksum(b), rt.timestamp, 0, 100, True], value=1000)
    before = rt.balances()
    r = rt.call(a, Vesting, "revoke", [1], value=5)
    assert decode_error(compute_abi(Vesting), r.outcome.output) == ("NotPayable", (5,))
    assert rt.balances() == before


def test_unknown_selector_and_bad_calldata() -> None:
    rt = Runtime()
    a = rt.accounts[0]
    abi = compute_abi(Vesting)
    r = rt.raw_call(a, VESTING_ADDRESS, b"\xde\xad\xbe\xef")
    assert decode_error(abi, r.output) == ("UnknownSelector", (b"\xde\xad\xbe\xef",))
    release = function_signature_to_4byte_selector("release(uint256)")
    r = rt.raw_call(a, VESTING_ADDRESS, release + b"\x01")
    assert decode_error(abi, r.output) == ("BadCalldata", ())
    # An overflowing number: a uint64 argument (start) given 2**64 in its word, as Solidity refuses it.
    create = function_signature_to_4byte_selector("createSchedule(address,uint64,uint64,uint64,bool)")
    args = abi_encode(["address", "uint256", "uint64", "uint64", "bool"], [a, 2**64, 0, 10, False])
    before = rt.balances()
    r = rt.raw_call(a, VESTING_ADDRESS, create + args, value=100)
    assert decode_error(abi, r.output) == ("BadCalldata", ())
    assert rt.balances() == before


class Counter(Pallet):
    """A test pallet: its writes must vanish when it fails after writing."""
    name = "counter"
    address = bytes.fromhex("00000000000000000000000000000000000008ff")
    storage_schema = {"count": StorageValue("uint256")}
    Bumped = event("Bumped(uint256 count)")
    TooBig = error("TooBig(uint256 count)")
    events = (Bumped,)
    errors = (TooBig,)

    @call("bump(uint256 by)", returns="uint256 count", weight=1000, payable=True)
    def bump(self, ctx, by):
        count = ctx.storage.get_value("count") + by
        ctx.storage.set_value("count", count)
        ctx.emit(Counter.Bumped, count=count)
        ctx.pay(ctx.sender, ctx.value // 2)  # pays half back, even when failing later
        if count > 10:
            raise Counter.TooBig(count)  # after the writes: they are rolled back
        return count

    @call("count()", returns="uint256", weight=100, view=True)
    def count(self, ctx):
        return ctx.storage.get_value("count")


def test_failure_after_writes_rolls_everything_back() -> None:
    from vm import evm
    evm.register_natives({**native_handlers(), Counter.address: Counter.handle})
    try:
        rt = Runtime(pallets=(*PALLETS, Counter))
        a = rt.accounts[0]
        assert rt.call(a, Counter, "bump", [4], value=100).values == (4,)
        before = rt.balances()
        r = rt.call(a, Counter, "bump", [20], value=100)
        assert not r.success and r.outcome.logs == ()
        assert rt.balances() == before
        assert rt.view(Counter, "count") == 4
    finally:
        evm.register_natives(native_handlers())


def test_pallet_account_holds_code_so_solidity_can_call_it() -> None:
    rt = Runtime()
    assert rt.state.get_code(VESTING_ADDRESS) == PALLET_CODE


# CALLDATACOPY the input, STATICCALL 0x0801 with it, return the success flag.
STATIC_CALLER = bytes.fromhex("365f5f37" "5f5f365f610801" "5afa" "5f5260205ff3")


def test_staticcall_reaches_views_but_not_writes() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    rt.call(a, Vesting, "createSchedule", [checksum(b), rt.timestamp - 100, 0, 10, True], value=1000)
    caller = b"\x77" * 20
    rt.state.set_code(caller, STATIC_CALLER)
    rt.advance(0)
    view = next(s for s in Vesting.calls if s.name == "releasable").selector + abi_encode(["uint256"], [1])
    write = next(s for s in Vesting.calls if s.name == "release").selector + abi_encode(["uint256"], [1])
    assert rt.raw_call(a, caller, view).output == abi_encode(["uint256"], [1])
    assert rt.raw_call(a, caller, write).output == abi_encode(["uint256"], [0])
    assert rt.view(Vesting, "releasable", 1) == 1000
