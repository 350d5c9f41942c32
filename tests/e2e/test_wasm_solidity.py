"""WASM and Solidity contracts calling each other in one transaction on a real `chameleon dev`:
a Solidity `Batch` paying through the WASM ERC-20 (transferFrom), the WASM forwarder calling a
Solidity `Target`, and Solidity -> WASM -> Solidity (`Caller` -> forwarder -> `Target`). One
address space, one ABI: a revert in the innermost frame reaches the outermost as ABI revert data
(the ERC-20's custom error, the target's), and rolls back every frame's storage writes and logs,
WASM and EVM alike. Contracts: tests/contracts/WasmMix.sol, vm/wasm/examples/{erc20,forwarder}.
"""
from __future__ import annotations

import eth_abi
import pytest
from eth_utils import keccak
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from tests.e2e.nodes import DEV_ADDRESSES
from vm.wasm.build import EXAMPLES_DIR, build_project, load_abi

pytestmark = pytest.mark.e2e

SUPPLY = 1_000_000 * 10**18
A0, A1, A2, A3, A4 = DEV_ADDRESSES[:5]
GAS = 1_000_000  # explicit: a failing transaction is mined without an estimate


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def topic(signature: str) -> bytes:
    return keccak(text=signature)


TRANSFER = topic("Transfer(address,address,uint256)")
BATCH_SENT = topic("BatchSent(address,address,uint256,uint256)")
FORWARDED = topic("Forwarded(address,uint256)")
STORED = topic("Stored(address,uint256)")
THROUGH = topic("Through(address,uint256)")


@pytest.fixture(scope="module")
def modules(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("wasm")
    return {name: build_project(EXAMPLES_DIR / name, out / f"{name}.wasm").read_bytes()
            for name in ("erc20", "forwarder")}


@pytest.fixture(scope="module")
def sol():
    from tests.contracts.compile import compile_contracts

    return compile_contracts(["WasmMix"])


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="wasm-sol")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


def deploy(w3, abi, bytecode: bytes, *args, sender=A0):
    tx = w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1, receipt
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


@pytest.fixture(scope="module")
def c(w3, modules, sol):
    """The deployed contracts: the WASM token (supply minted to A0) and forwarder, the Solidity ones."""
    class Contracts:
        token = deploy(w3, load_abi(EXAMPLES_DIR / "erc20"), modules["erc20"], SUPPLY)
        forwarder = deploy(w3, load_abi(EXAMPLES_DIR / "forwarder"), modules["forwarder"])
        batch = deploy(w3, sol["Batch"].abi, sol["Batch"].bytecode)
        target = deploy(w3, sol["Target"].abi, sol["Target"].bytecode)
        caller = deploy(w3, sol["Caller"].abi, sol["Caller"].bytecode)

    assert bytes(w3.eth.get_code(Contracts.token.address)) == modules["erc20"]
    assert bytes(w3.eth.get_code(Contracts.forwarder.address)) == modules["forwarder"]
    return Contracts


def mine(w3, fn, sender=A0):
    """Sends `fn` with a fixed gas limit (no estimate, so a failing call is mined too)."""
    return w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "gas": GAS}), timeout=30)


def revert_data(fn, sender=A0) -> str:
    with pytest.raises(ContractCustomError) as info:
        fn.call({"from": sender})
    data = info.value.data
    return data if isinstance(data, str) else "0x" + bytes(data).hex()


def slot(w3, contract, n: int) -> int:
    return int.from_bytes(w3.eth.get_storage_at(contract.address, n), "big")


def balance_slot(account: str) -> int:
    """The WASM token's balances[account]: Solidity's layout, mapping at slot 0."""
    return int.from_bytes(keccak(bytes.fromhex(account[2:]).rjust(32, b"\0") + bytes(32)), "big")


def events(receipt) -> list[tuple[str, bytes]]:
    """(emitting address, topic0) of each log, in order."""
    return [(log["address"], bytes(log["topics"][0])) for log in receipt["logs"]]


def snapshot(w3, c, accounts) -> dict:
    """Everything the scenarios may write: token balances (calls and raw slots), every slot used."""
    return {
        "balances": {a: c.token.functions.balanceOf(a).call() for a in accounts},
        "balance_slots": {a: w3.eth.get_storage_at(c.token.address, balance_slot(a)) for a in accounts},
        "allowance": c.token.functions.allowance(A1, c.batch.address).call(),
        "supply": c.token.functions.totalSupply().call(),
        "slots": {(ct.address, n): w3.eth.get_storage_at(ct.address, n)
                  for ct in (c.batch, c.target, c.caller, c.forwarder) for n in (0, 1)},
    }


# --------------------------------------------------------------------------- Solidity -> WASM


def test_solidity_batch_pays_through_the_wasm_token(w3, c):
    approve = mine(w3, c.token.functions.approve(c.batch.address, 10**6 * 10**18))
    assert approve["status"] == 1
    to, amounts = [A1, A2, A3], [100 * 10**18, 20 * 10**18, 3 * 10**18]
    before = {a: c.token.functions.balanceOf(a).call() for a in (A0, *to)}
    assert c.batch.functions.send(c.token.address, to, amounts).call({"from": A0}) == sum(amounts)

    receipt = mine(w3, c.batch.functions.send(c.token.address, to, amounts))
    assert receipt["status"] == 1
    # The WASM token's Transfer logs and the Solidity contract's event, in one receipt, in call order.
    assert events(receipt) == [(c.token.address, TRANSFER)] * 3 + [(c.batch.address, BATCH_SENT)]
    # (process_receipt: DISCARD skips the other contracts' logs of the receipt)
    transfers = c.token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in transfers] == \
        [(A0, a, v) for a, v in zip(to, amounts)]
    (sent,) = c.batch.events.BatchSent().process_receipt(receipt, errors=DISCARD)
    assert (sent["args"]["token"], sent["args"]["from"], sent["args"]["count"], sent["args"]["total"]) == \
        (c.token.address, A0, 3, sum(amounts))

    assert c.token.functions.balanceOf(A0).call() == before[A0] - sum(amounts)
    for a, v in zip(to, amounts):
        assert c.token.functions.balanceOf(a).call() == before[a] + v
    assert c.token.functions.allowance(A0, c.batch.address).call() == 10**6 * 10**18 - sum(amounts)
    # The Solidity contract's own storage, as eth_getStorageAt sees it.
    assert slot(w3, c.batch, 0) == c.batch.functions.batches().call() == 1
    assert slot(w3, c.batch, 1) == c.batch.functions.lastTotal().call() == sum(amounts)


def test_failing_wasm_transfer_reverts_the_batch_with_the_erc20_error(w3, c):
    # A1 holds 100 tokens (from the test above), approves the batch for far more than that.
    assert mine(w3, c.token.functions.approve(c.batch.address, 10**30), sender=A1)["status"] == 1
    balance = c.token.functions.balanceOf(A1).call()
    assert balance == 100 * 10**18
    to, amounts = [A2, A3, A4], [60 * 10**18, 30 * 10**18, 11 * 10**18]  # the third one is short by 1 token
    before = snapshot(w3, c, (A1, A2, A3, A4))
    fn = c.batch.functions.send(c.token.address, to, amounts)

    # The WASM token's OpenZeppelin error, raised in the third inner call, is the batch's revert
    # data: the balance it reports is what was left after the first two transfers of this call.
    data = revert_data(fn, sender=A1)
    assert data == selector("ERC20InsufficientBalance(address,uint256,uint256)") + eth_abi.encode(
        ["address", "uint256", "uint256"], [A1, balance - 90 * 10**18, 11 * 10**18]).hex()

    receipt = mine(w3, fn, sender=A1)
    assert receipt["status"] == 0
    assert receipt["logs"] == []  # not the two Transfer logs either
    # The two earlier WASM transfers, the batch counter written before them: all rolled back.
    assert snapshot(w3, c, (A1, A2, A3, A4)) == before
    assert slot(w3, c.batch, 0) == 1 and slot(w3, c.batch, 1) == 123 * 10**18

    # Within the balance, the same batch goes through.
    receipt = mine(w3, c.batch.functions.send(c.token.address, to[:2], amounts[:2]), sender=A1)
    assert receipt["status"] == 1
    assert events(receipt) == [(c.token.address, TRANSFER)] * 2 + [(c.batch.address, BATCH_SENT)]
    assert c.token.functions.balanceOf(A1).call() == 10 * 10**18
    assert slot(w3, c.batch, 0) == 2 and slot(w3, c.batch, 1) == 90 * 10**18


# --------------------------------------------------------------------------- WASM -> Solidity


def store_call(c, value: int, fail: bool) -> bytes:
    return bytes.fromhex(c.target.encode_abi("store", [value, fail])[2:])


def test_wasm_forwarder_calls_solidity(w3, c):
    fn = c.forwarder.functions.forward(c.target.address, store_call(c, 7, False))
    assert eth_abi.decode(["uint256"], fn.call({"from": A0}))[0] == 1  # Target.store's return, as bytes

    receipt = mine(w3, fn)
    assert receipt["status"] == 1
    assert events(receipt) == [(c.forwarder.address, FORWARDED), (c.target.address, STORED)]
    (stored,) = c.target.events.Stored().process_receipt(receipt, errors=DISCARD)
    assert (stored["args"]["by"], stored["args"]["value"]) == (c.forwarder.address, 7)  # msg.sender: the WASM contract
    assert slot(w3, c.forwarder, 0) == c.forwarder.functions.calls().call() == 1
    assert (slot(w3, c.target, 0), slot(w3, c.target, 1)) == (7, 1)


def test_solidity_revert_reverts_the_wasm_caller_too(w3, c):
    before = snapshot(w3, c, (A0,))
    fn = c.forwarder.functions.forward(c.target.address, store_call(c, 9, True))
    assert revert_data(fn) == selector("Refused(uint256)") + eth_abi.encode(["uint256"], [9]).hex()

    receipt = mine(w3, fn)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    # The forwarder's count (written before the call) and the target's writes: both undone.
    assert snapshot(w3, c, (A0,)) == before
    assert slot(w3, c.forwarder, 0) == 1 and (slot(w3, c.target, 0), slot(w3, c.target, 1)) == (7, 1)


# --------------------------------------------------------------------------- Solidity -> WASM -> Solidity


def test_solidity_wasm_solidity_in_one_transaction(w3, c):
    fn = c.caller.functions.callThrough(c.forwarder.address, c.target.address, store_call(c, 11, False))
    assert eth_abi.decode(["uint256"], fn.call({"from": A2}))[0] == 2

    receipt = mine(w3, fn, sender=A2)
    assert receipt["status"] == 1
    assert events(receipt) == [(c.caller.address, THROUGH), (c.forwarder.address, FORWARDED),
                               (c.target.address, STORED)]
    assert slot(w3, c.caller, 0) == 1
    assert slot(w3, c.forwarder, 0) == 2
    assert (slot(w3, c.target, 0), slot(w3, c.target, 1)) == (11, 2)


def test_innermost_revert_rolls_back_all_three_frames(w3, c):
    before = snapshot(w3, c, (A2,))
    fn = c.caller.functions.callThrough(c.forwarder.address, c.target.address, store_call(c, 13, True))
    # Target's error, bubbled through the WASM frame and the outer Solidity frame unchanged.
    assert revert_data(fn, sender=A2) == selector("Refused(uint256)") + eth_abi.encode(["uint256"], [13]).hex()

    receipt = mine(w3, fn, sender=A2)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert snapshot(w3, c, (A2,)) == before
    assert slot(w3, c.caller, 0) == 1
    assert slot(w3, c.forwarder, 0) == 2
    assert (slot(w3, c.target, 0), slot(w3, c.target, 1)) == (11, 2)
    # The chain goes on: the same call without the revert succeeds.
    assert mine(w3, c.caller.functions.callThrough(c.forwarder.address, c.target.address,
                                                    store_call(c, 17, False)), sender=A2)["status"] == 1
    assert (slot(w3, c.caller, 0), slot(w3, c.forwarder, 0), slot(w3, c.target, 0)) == (2, 3, 17)
