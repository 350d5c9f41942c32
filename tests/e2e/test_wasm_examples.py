"""The WASM example contracts on a real `chameleon dev`, driven with web3.py as any contract:
the AssemblyScript ERC-20 side by side with OpenZeppelin's Solidity token (same results,
balances, events, errors and storage slots), the counter, and a WASM contract calling the
vesting pallet with value.
"""
from __future__ import annotations

import eth_abi
import pytest
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from tests.e2e.nodes import DEV_ADDRESSES
from vm.wasm.build import EXAMPLES_DIR, build_project, load_abi

pytestmark = pytest.mark.e2e

SUPPLY = 1_000_000 * 10**18
MAX = 2**256 - 1
NAME, SYMBOL = "Wasm Token", "WTK"  # what erc20.ts hardcodes
VESTING = "0x0000000000000000000000000000000000000801"
A0, A1, A2, A3 = DEV_ADDRESSES[:4]
ZERO = "0x" + "00" * 20


@pytest.fixture(scope="module")
def modules(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("wasm")
    return {name: build_project(EXAMPLES_DIR / name, out / f"{name}.wasm").read_bytes()
            for name in ("erc20", "counter", "vesting_caller")}


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="wasm")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


def deploy(w3, abi, bytecode: bytes, *args, sender=A0):
    """Deploys `bytecode` (EVM init code or a WASM module) with constructor `args`, as web3 does
    for any contract: the init code is the code followed by the ABI-encoded arguments."""
    tx_hash = w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, receipt
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi), receipt


@pytest.fixture(scope="module")
def tokens(w3, contracts, modules):
    """(wasm, solidity): the same supply minted to account 0."""
    wasm, wasm_receipt = deploy(w3, load_abi(EXAMPLES_DIR / "erc20"), modules["erc20"], SUPPLY)
    sol, sol_receipt = deploy(w3, contracts["Token"].abi, contracts["Token"].bytecode, NAME, SYMBOL, SUPPLY)
    return {"wasm": (wasm, wasm_receipt), "sol": (sol, sol_receipt)}


def logs_of(receipt) -> list[tuple[list[str], str]]:
    """(topics, data) of each log, without the emitting address."""
    return [([bytes(t).hex() for t in log["topics"]], bytes(log["data"]).hex()) for log in receipt["logs"]]


def revert_data(fn, sender) -> str:
    with pytest.raises(ContractCustomError) as info:
        fn.call({"from": sender})
    data = info.value.data
    return data if isinstance(data, str) else "0x" + bytes(data).hex()


def test_wasm_code_is_the_module(w3, tokens, modules):
    wasm, receipt = tokens["wasm"]
    assert bytes(w3.eth.get_code(wasm.address)) == modules["erc20"]
    assert receipt["gasUsed"] > 200 * len(modules["erc20"])  # code deposit: 200 gas a byte


def test_deployment_mints_the_same(tokens):
    (wasm, wasm_receipt), (sol, sol_receipt) = tokens["wasm"], tokens["sol"]
    assert logs_of(wasm_receipt) == logs_of(sol_receipt)
    for fn in ("name", "symbol", "decimals", "totalSupply"):
        assert getattr(wasm.functions, fn)().call() == getattr(sol.functions, fn)().call(), fn
    assert wasm.functions.balanceOf(A0).call() == sol.functions.balanceOf(A0).call() == SUPPLY


# (sender, function, args): transfers, approvals, spending, self-transfer, a zero transfer.
SEQUENCE = [
    (A0, "transfer", (A1, 1234 * 10**18)),
    (A1, "transfer", (A2, 34 * 10**18)),
    (A1, "transfer", (A1, 100)),
    (A0, "approve", (A1, 500 * 10**18)),
    (A1, "transferFrom", (A0, A3, 200 * 10**18)),
    (A0, "approve", (A2, MAX)),
    (A2, "transferFrom", (A0, A2, 7)),
    (A3, "transfer", (A2, 0)),
]

# (sender, function, args, expected custom error name).
FAILING = [
    (A2, "transfer", (A1, 10**30), "ERC20InsufficientBalance"),
    (A0, "transfer", (ZERO, 1), "ERC20InvalidReceiver"),
    (A1, "transferFrom", (A0, A1, 10**24), "ERC20InsufficientAllowance"),
    (A0, "approve", (ZERO, 1), "ERC20InvalidSpender"),
    (A3, "transferFrom", (A2, A3, 1), "ERC20InsufficientAllowance"),
]


def test_same_sequence_same_results_and_events(w3, tokens):
    (wasm, _), (sol, _) = tokens["wasm"], tokens["sol"]
    for sender, name, args in SEQUENCE:
        results, receipts = [], []
        for token in (wasm, sol):
            fn = getattr(token.functions, name)(*args)
            results.append(fn.call({"from": sender}))
            receipts.append(w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}), timeout=30))
        assert results == [True, True], name
        assert [r["status"] for r in receipts] == [1, 1], name
        assert logs_of(receipts[0]) == logs_of(receipts[1]), (name, args)
        assert logs_of(receipts[0]), name  # every step emits its event
    assert_same_state(w3, wasm, sol)


def test_failing_calls_revert_with_the_same_custom_error(w3, tokens):
    (wasm, _), (sol, _) = tokens["wasm"], tokens["sol"]
    errors = {e["name"]: e for e in wasm.abi if e["type"] == "error"}
    for sender, name, args, error in FAILING:
        datas = [revert_data(getattr(t.functions, name)(*args), sender) for t in (wasm, sol)]
        assert datas[0] == datas[1], (name, args)
        inputs = ",".join(i["type"] for i in errors[error]["inputs"])
        assert datas[0][:10] == "0x" + keccak(text=f"{error}({inputs})")[:4].hex(), (name, datas[0])
        # Mined anyway (explicit gas: no estimate): both fail, neither logs.
        receipts = [w3.eth.wait_for_transaction_receipt(
            getattr(t.functions, name)(*args).transact({"from": sender, "gas": 300_000}), timeout=30)
            for t in (wasm, sol)]
        assert [r["status"] for r in receipts] == [0, 0]
        assert [r["logs"] for r in receipts] == [[], []]
    assert_same_state(w3, wasm, sol)


def test_insufficient_balance_error_carries_the_values(tokens):
    wasm, _ = tokens["wasm"]
    data = revert_data(wasm.functions.transfer(A1, 10**30), A2)
    balance = wasm.functions.balanceOf(A2).call()
    assert data == "0x" + keccak(text="ERC20InsufficientBalance(address,uint256,uint256)")[:4].hex() + \
        eth_abi.encode(["address", "uint256", "uint256"], [A2, balance, 10**30]).hex()


def test_bad_calldata_reverts_without_data_like_solidity(w3, node, tokens):
    (wasm, _), (sol, _) = tokens["wasm"], tokens["sol"]
    for data in ("0x", "0x12345678", "0xa9059cbb" + "00" * 31):  # empty, unknown selector, short args
        answers = [node.request("eth_call", {"to": t.address, "data": data, "from": A0}, "latest") for t in (wasm, sol)]
        assert "error" in answers[0] and answers[0]["error"] == answers[1]["error"], (data, answers)


def assert_same_state(w3, wasm, sol):
    accounts = (A0, A1, A2, A3, ZERO)
    for a in accounts:
        assert wasm.functions.balanceOf(a).call() == sol.functions.balanceOf(a).call(), a
        for b in accounts:
            assert wasm.functions.allowance(a, b).call() == sol.functions.allowance(a, b).call(), (a, b)
    assert wasm.functions.totalSupply().call() == sol.functions.totalSupply().call() == SUPPLY
    # Solidity's storage layout: balances at slot 0, allowances at slot 1, totalSupply at slot 2.
    slots = [2] + [int.from_bytes(keccak(_word(a) + _word(0)), "big") for a in accounts]
    slots += [int.from_bytes(keccak(_word(b) + keccak(_word(a) + _word(1))), "big") for a in accounts for b in accounts]
    for slot in slots:
        assert w3.eth.get_storage_at(wasm.address, slot) == w3.eth.get_storage_at(sol.address, slot), hex(slot)


def _word(value) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:]).rjust(32, b"\0")
    return value.to_bytes(32, "big")


def test_counter(w3, modules):
    counter, _ = deploy(w3, load_abi(EXAMPLES_DIR / "counter"), modules["counter"])
    assert counter.functions.get().call() == 0
    for expected in (1, 2):
        receipt = w3.eth.wait_for_transaction_receipt(counter.functions.increment().transact({"from": A1}), timeout=30)
        assert receipt["status"] == 1
        (event,) = counter.events.Incremented().process_receipt(receipt)
        assert (event["args"]["by"], event["args"]["value"]) == (A1, expected)
    assert counter.functions.get().call() == 2


def test_vesting_caller_creates_a_schedule_in_the_pallet(w3, node, modules):
    caller, _ = deploy(w3, load_abi(EXAMPLES_DIR / "vesting_caller"), modules["vesting_caller"])
    vesting = w3.eth.contract(address=w3.to_checksum_address(VESTING), abi=node.rpc("chameleon_pallets")[0]["abi"])
    beneficiary = DEV_ADDRESSES[5]
    before = vesting.functions.schedulesOf(beneficiary).call()
    value = 3 * 10**18
    expected_id = caller.functions.vestFor(beneficiary, 60, 3600).call({"from": A0, "value": value})
    tx = caller.functions.vestFor(beneficiary, 60, 3600).transact({"from": A0, "value": value})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1
    assert vesting.functions.schedulesOf(beneficiary).call() == [*before, expected_id]
    # The pallet holds the value, not the WASM contract.
    assert w3.eth.get_balance(caller.address) == 0
    # Without value the pallet refuses (ZeroAmount()); the WASM contract passes its error on.
    data = revert_data(caller.functions.vestFor(beneficiary, 60, 3600), A0)
    assert data == "0x" + keccak(text="ZeroAmount()")[:4].hex()
