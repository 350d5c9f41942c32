"""The escrow pallet on a real `chameleon dev`, used as a dApp uses a contract: web3.py with
the generated ABI, value and gas accounted to the wei, events, named errors, time travel.
"""
from __future__ import annotations


import pytest
from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, keccak
from web3.exceptions import ContractCustomError

from tests.e2e.nodes import DEV_ADDRESSES, RpcFailure

pytestmark = pytest.mark.e2e

ESCROW = "0x0000000000000000000000000000000000000802"
ETH = 10**18
REF = keccak(text="p2p trade #1")
OPEN, SHIPPED, DISPUTED, RELEASED, REFUNDED, RESOLVED = 1, 2, 3, 4, 5, 6


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="escrow")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


@pytest.fixture(scope="module")
def abi(pallet_artifacts):
    return pallet_artifacts.abi("escrow")


@pytest.fixture(scope="module")
def escrow(w3, abi):
    return w3.eth.contract(address=w3.to_checksum_address(ESCROW), abi=abi)


def fee(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def send(w3, fn, tx: dict):
    """Send with the gas eth_estimateGas gives; the receipt, checked for success."""
    gas = fn.estimate_gas(tx)
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact({**tx, "gas": gas}))
    assert receipt["status"] == 1
    assert receipt["gasUsed"] <= gas
    return receipt


def decode_error(abi: list[dict], data: str | bytes) -> tuple[str, tuple]:
    """The ABI error named by the revert data's selector, and its decoded arguments."""
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
    for item in abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            if function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})") == raw[:4]:
                return item["name"], tuple(abi_decode(types, raw[4:]))
    raise AssertionError(f"no ABI error matches {raw.hex()}")


def test_p2p_trade_disputed_and_split_30_70(node, w3, escrow, abi):
    buyer, seller, arbiter, stranger = DEV_ADDRESSES[1], DEV_ADDRESSES[2], DEV_ADDRESSES[3], DEV_ADDRESSES[4]
    pallet = w3.to_checksum_address(ESCROW)
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    amount = 10 * ETH + 1  # an odd wei: the buyer's 30% rounds down, the seller gets the rest
    start = {a: w3.eth.get_balance(a) for a in (buyer, seller, arbiter)}
    held_before = w3.eth.get_balance(pallet)

    open_ = escrow.functions.open(seller, arbiter, deadline, REF)
    escrow_id = open_.call({"from": buyer, "value": amount})  # eth_call: the id the transaction will get
    receipt = send(w3, open_, {"from": buyer, "value": amount})
    spent = {buyer: fee(receipt)}
    (opened,) = escrow.events.Opened().process_receipt(receipt)
    assert opened["args"] == {"id": escrow_id, "buyer": buyer, "seller": seller, "amount": amount}
    assert w3.eth.get_balance(pallet) == held_before + amount
    assert escrow.functions.escrow(escrow_id).call() == [buyer, seller, arbiter, amount, deadline, REF, OPEN, 0]

    # the arbiter may not split before a dispute: a named custom error, through web3
    with pytest.raises(ContractCustomError) as exc:
        escrow.functions.resolve(escrow_id, 3000).call({"from": arbiter})
    assert decode_error(abi, exc.value.data) == ("WrongStatus", (escrow_id, OPEN))
    with pytest.raises(ContractCustomError) as exc:
        escrow.functions.dispute(escrow_id).call({"from": stranger})
    assert decode_error(abi, exc.value.data) == ("NotParty", (escrow_id,))

    receipt = send(w3, escrow.functions.markShipped(escrow_id), {"from": seller})
    spent[seller] = fee(receipt)
    assert escrow.events.Shipped().process_receipt(receipt)[0]["args"] == {"id": escrow_id}

    receipt = send(w3, escrow.functions.dispute(escrow_id), {"from": buyer})
    spent[buyer] += fee(receipt)
    (disputed,) = escrow.events.Disputed().process_receipt(receipt)
    assert disputed["args"] == {"id": escrow_id, "by": buyer}
    assert escrow.functions.escrow(escrow_id).call()[6] == DISPUTED

    with pytest.raises(ContractCustomError) as exc:
        escrow.functions.resolve(escrow_id, 10_001).call({"from": arbiter})
    assert decode_error(abi, exc.value.data) == ("BpsOutOfRange", (10_001,))

    receipt = send(w3, escrow.functions.resolve(escrow_id, 3000), {"from": arbiter})
    spent[arbiter] = fee(receipt)
    to_buyer, to_seller = amount * 3000 // 10_000, amount - amount * 3000 // 10_000
    assert (to_buyer, to_seller) == (3 * ETH, 7 * ETH + 1)
    (resolved,) = escrow.events.Resolved().process_receipt(receipt)
    assert resolved["args"] == {"id": escrow_id, "buyerBps": 3000, "toBuyer": to_buyer, "toSeller": to_seller}

    assert w3.eth.get_balance(buyer) == start[buyer] - amount + to_buyer - spent[buyer]
    assert w3.eth.get_balance(seller) == start[seller] + to_seller - spent[seller]
    assert w3.eth.get_balance(arbiter) == start[arbiter] - spent[arbiter]
    assert w3.eth.get_balance(pallet) == held_before
    assert escrow.functions.escrow(escrow_id).call()[6] == RESOLVED

    # settled once: a second resolve is refused, also as a mined transaction (status 0, nothing moves)
    with pytest.raises(ContractCustomError) as exc:
        escrow.functions.resolve(escrow_id, 0).call({"from": arbiter})
    assert decode_error(abi, exc.value.data) == ("WrongStatus", (escrow_id, RESOLVED))
    before = w3.eth.get_balance(seller)
    tx = escrow.functions.resolve(escrow_id, 0).transact({"from": arbiter, "gas": 200_000})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    assert w3.eth.get_balance(seller) == before


def test_buyer_cancels_after_the_deadline_with_time_travel(node, w3, escrow, abi):
    buyer, seller, arbiter = DEV_ADDRESSES[5], DEV_ADDRESSES[6], DEV_ADDRESSES[7]
    deadline = w3.eth.get_block("latest")["timestamp"] + 600
    amount = 2 * ETH
    receipt = send(w3, escrow.functions.open(seller, arbiter, deadline, REF), {"from": buyer, "value": amount})
    (opened,) = escrow.events.Opened().process_receipt(receipt)
    escrow_id = opened["args"]["id"]

    with pytest.raises(ContractCustomError) as exc:
        escrow.functions.cancel(escrow_id).call({"from": buyer})
    assert decode_error(abi, exc.value.data) == ("DeadlineNotPassed", (escrow_id, deadline))

    node.advance(601)
    before = w3.eth.get_balance(buyer)
    receipt = send(w3, escrow.functions.cancel(escrow_id), {"from": buyer})
    assert w3.eth.get_block(receipt["blockNumber"])["timestamp"] > deadline
    (refunded,) = escrow.events.Refunded().process_receipt(receipt)
    assert refunded["args"] == {"id": escrow_id, "to": buyer, "amount": amount}
    assert w3.eth.get_balance(buyer) == before + amount - fee(receipt)
    assert escrow.functions.escrow(escrow_id).call()[6] == REFUNDED


def test_raw_rpc_estimate_call_and_errors(node, w3, escrow):
    buyer, seller, arbiter = DEV_ADDRESSES[8], DEV_ADDRESSES[9], DEV_ADDRESSES[0]
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    data = escrow.functions.open(seller, arbiter, deadline, REF)._encode_transaction_data()
    call = {"from": buyer, "to": ESCROW, "data": data, "value": hex(ETH)}
    gas = int(node.rpc("eth_estimateGas", call), 16)
    # intrinsic + the open weight (6,000) + at least four new slots of the escrow (22,100 each)
    assert 21_000 + 6_000 + 4 * 22_100 <= gas < 1_000_000
    next_id = int(node.rpc("eth_call", call, "latest"), 16)
    assert next_id >= 1
    # no value: ZeroAmount, as JSON-RPC code 3 with the error's data
    with pytest.raises(RpcFailure) as failure:
        node.rpc("eth_call", {**call, "value": "0x0"}, "latest")
    assert failure.value.code == 3
    assert failure.value.data == "0x" + keccak(text="ZeroAmount()")[:4].hex()
    with pytest.raises(RpcFailure):
        node.rpc("eth_estimateGas", {**call, "value": "0x0"})
    # value to a non-payable call (web3 refuses it before sending; raw JSON-RPC does not)
    confirm = "0x" + keccak(text="confirm(uint256)")[:4].hex() + "00" * 31 + "01"
    with pytest.raises(RpcFailure) as failure:
        node.rpc("eth_call", {"from": buyer, "to": ESCROW, "data": confirm, "value": "0x2"}, "latest")
    assert failure.value.data == "0x" + keccak(text="NotPayable(uint256)")[:4].hex() + "00" * 31 + "02"
