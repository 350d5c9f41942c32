"""The stores pallet on a real `chameleon dev`, used as a dApp and a wallet would: web3.py with
the generated ABIs, an ERC-721 store transferred and bought from through escrow; and Solidity
contracts that receive (or refuse) a store through safeTransferFrom.
"""
from __future__ import annotations


import pytest
from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from tests.e2e.nodes import DEV_ADDRESSES

pytestmark = pytest.mark.e2e

STORES = "0x0000000000000000000000000000000000000803"
ESCROW = "0x0000000000000000000000000000000000000802"
PRICE = 10**17

RECEIVERS = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import "./IStores.sol";

/// Accepts stores, remembers the last one it was sent, and can pass a store on.
contract StoreHolder {
    address public lastOperator;
    address public lastFrom;
    uint256 public lastTokenId;
    bytes public lastData;

    function onERC721Received(address operator, address from, uint256 tokenId, bytes calldata data)
        external returns (bytes4)
    {
        require(msg.sender == STORES_PALLET, "not the stores pallet");
        lastOperator = operator;
        lastFrom = from;
        lastTokenId = tokenId;
        lastData = data;
        return this.onERC721Received.selector;
    }

    function passOn(address to, uint256 tokenId) external {
        IStores(STORES_PALLET).safeTransferFrom(address(this), to, tokenId);
    }
}

/// Knows nothing of ERC-721.
contract NotAHolder {
    uint256 public x;
    function poke() external { x += 1; }
}
"""


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="stores")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


@pytest.fixture(scope="module")
def generated(pallet_artifacts):
    return {"stores": pallet_artifacts.abi("stores"), "escrow": pallet_artifacts.abi("escrow"),
            "sol": pallet_artifacts.sol("IStores")}


@pytest.fixture(scope="module")
def stores(w3, generated):
    return w3.eth.contract(address=w3.to_checksum_address(STORES), abi=generated["stores"])


@pytest.fixture(scope="module")
def escrow(w3, generated):
    return w3.eth.contract(address=w3.to_checksum_address(ESCROW), abi=generated["escrow"])


def send(w3, fn, tx: dict) -> dict:
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact(tx))
    assert receipt["status"] == 1, receipt
    return receipt


def fee(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def create_store(w3, stores, owner: str, name: str = "Shop", uri: str = "ipfs://catalog") -> int:
    receipt = send(w3, stores.functions.createStore(name, uri), {"from": owner})
    (created,) = stores.events.StoreCreated().process_receipt(receipt, errors=DISCARD)
    return created["args"]["storeId"]


def test_store_is_an_erc721(w3, stores):
    assert stores.functions.name().call() == "Chameleon Stores"
    assert stores.functions.symbol().call() == "STORE"
    for iid in ("0x01ffc9a7", "0x80ac58cd", "0x5b5e139f"):
        assert stores.functions.supportsInterface(iid).call() is True
    assert stores.functions.supportsInterface("0xffffffff").call() is False
    with pytest.raises(ContractCustomError) as exc:
        stores.functions.ownerOf(12345).call()
    assert exc.value.data == selector("ERC721NonexistentToken(uint256)") + f"{12345:064x}"


def test_marketplace_flow(w3, stores, escrow):
    owner, new_owner, buyer = DEV_ADDRESSES[0], DEV_ADDRESSES[1], DEV_ADDRESSES[2]
    receipt = send(w3, stores.functions.createStore("Alice's", "ipfs://alice"), {"from": owner})
    (minted,) = stores.events.Transfer().process_receipt(receipt, errors=DISCARD)
    sid = minted["args"]["tokenId"]
    assert minted["args"]["from"] == "0x" + "00" * 20 and minted["args"]["to"] == owner
    assert stores.functions.tokenURI(sid).call() == "ipfs://alice"

    receipt = send(w3, stores.functions.listProduct(sid, PRICE, 5, "ipfs://teapot"), {"from": owner})
    (listed,) = stores.events.ProductListed().process_receipt(receipt, errors=DISCARD)
    pid = listed["args"]["productId"]
    assert stores.functions.product(pid).call() == [sid, PRICE, 5, "ipfs://teapot"]

    # the store changes hands: the Transfer event, as a wallet sees it
    receipt = send(w3, stores.functions.transferFrom(owner, new_owner, sid), {"from": owner})
    (moved,) = stores.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert moved["args"] == {"from": owner, "to": new_owner, "tokenId": sid}
    logs = w3.eth.get_logs({"address": w3.to_checksum_address(STORES), "fromBlock": receipt["blockNumber"],
                            "toBlock": receipt["blockNumber"],
                            "topics": ["0x" + keccak(text="Transfer(address,address,uint256)").hex()]})
    assert [stores.events.Transfer().process_log(lg)["args"]["to"] for lg in logs] == [new_owner]
    assert stores.functions.ownerOf(sid).call() == new_owner
    assert stores.functions.balanceOf(new_owner).call() >= 1

    # a wrong payment is a named error web3 decodes
    with pytest.raises(ContractCustomError) as exc:
        stores.functions.buy(pid, 2).call({"from": buyer, "value": PRICE})
    assert exc.value.data[:10] == selector("WrongPayment(uint256,uint256)")
    assert abi_decode(["uint256", "uint256"], bytes.fromhex(exc.value.data[10:])) == (2 * PRICE, PRICE)

    receipt = send(w3, stores.functions.buy(pid, 2), {"from": buyer, "value": 2 * PRICE})
    (bought,) = stores.events.Purchased().process_receipt(receipt, errors=DISCARD)
    eid = bought["args"]["escrowId"]
    assert bought["args"] == {"escrowId": eid, "productId": pid, "buyer": buyer, "quantity": 2, "amount": 2 * PRICE}
    (opened,) = escrow.events.Opened().process_receipt(receipt, errors=DISCARD)
    assert opened["args"]["id"] == eid and opened["args"]["seller"] == new_owner and opened["args"]["buyer"] == buyer
    assert stores.functions.order(eid).call() == [sid, pid, 2, buyer, False]
    assert stores.functions.product(pid).call()[2] == 3

    with pytest.raises(ContractCustomError) as exc:  # not released yet
        stores.functions.rate(eid, 5).call({"from": buyer})
    assert exc.value.data[:10] == selector("NotReleased(uint256,uint8)")

    seller_before = w3.eth.get_balance(new_owner)
    shipped = send(w3, escrow.functions.markShipped(eid), {"from": new_owner})
    confirmed = send(w3, escrow.functions.confirm(eid), {"from": buyer})
    assert w3.eth.get_balance(new_owner) == seller_before - fee(shipped) + 2 * PRICE
    (settled,) = stores.events.OrderSettled().process_receipt(confirmed, errors=DISCARD)
    assert settled["args"] == {"escrowId": eid, "storeId": sid, "status": 4}

    receipt = send(w3, stores.functions.rate(eid, 4), {"from": buyer})
    (rated,) = stores.events.Rated().process_receipt(receipt, errors=DISCARD)
    assert rated["args"] == {"escrowId": eid, "storeId": sid, "buyer": buyer, "stars": 4}
    assert stores.functions.store(sid).call() == [new_owner, "Alice's", "ipfs://alice", 1, 4, 1]

    with pytest.raises(ContractCustomError) as exc:
        stores.functions.rate(eid, 5).call({"from": buyer})
    assert exc.value.data == selector("AlreadyRated(uint256)") + f"{eid:064x}"
    # a failing transaction is mined with status 0 and changes nothing
    before = stores.functions.store(sid).call()
    tx = stores.functions.rate(eid, 5).transact({"from": buyer, "gas": 200_000})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    assert stores.functions.store(sid).call() == before


def _compile_receivers(generated):
    from tests.contracts.compile import _check_toolchain, _run_solc, _settings

    sources = {"IStores.sol": {"content": generated["sol"]}, "Receivers.sol": {"content": RECEIVERS}}
    output = _run_solc(_check_toolchain(), {"language": "Solidity", "sources": sources,
                                            "settings": _settings(list(sources))})
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    return output["contracts"]["Receivers.sol"]


def _deploy(w3, art, sender):
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["evm"]["bytecode"]["object"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": sender}))
    assert receipt["status"] == 1
    return w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


def test_safe_transfer_to_contracts(w3, stores, generated):
    owner, other = DEV_ADDRESSES[3], DEV_ADDRESSES[4]
    arts = _compile_receivers(generated)
    holder = _deploy(w3, arts["StoreHolder"], owner)
    stranger = _deploy(w3, arts["NotAHolder"], owner)
    sid = create_store(w3, stores, owner, "Vault", "ipfs://vault")

    safe_with_data = stores.get_function_by_signature("safeTransferFrom(address,address,uint256,bytes)")
    receipt = send(w3, safe_with_data(owner, holder.address, sid, b"hello"), {"from": owner})
    (moved,) = stores.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert moved["args"] == {"from": owner, "to": holder.address, "tokenId": sid}
    assert stores.functions.ownerOf(sid).call() == holder.address
    assert holder.functions.lastOperator().call() == owner
    assert holder.functions.lastFrom().call() == owner
    assert holder.functions.lastTokenId().call() == sid
    assert holder.functions.lastData().call() == b"hello"

    # the contract, as the owner, calls the pallet: to a contract that does not accept, it fails named
    with pytest.raises(ContractCustomError) as exc:
        holder.functions.passOn(stranger.address, sid).call({"from": other})
    assert exc.value.data == selector("ERC721InvalidReceiver(address)") + "00" * 12 + stranger.address[2:].lower()
    send(w3, holder.functions.passOn(other, sid), {"from": other})
    assert stores.functions.ownerOf(sid).call() == other

    safe = stores.get_function_by_signature("safeTransferFrom(address,address,uint256)")
    with pytest.raises(ContractCustomError) as exc:
        safe(other, stranger.address, sid).call({"from": other})
    assert exc.value.data[:10] == selector("ERC721InvalidReceiver(address)")
    tx = safe(other, stranger.address, sid).transact({"from": other, "gas": 300_000})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    assert stores.functions.ownerOf(sid).call() == other
    # plain transferFrom does not ask the receiver
    send(w3, stores.functions.transferFrom(other, stranger.address, sid), {"from": other})
    assert stores.functions.ownerOf(sid).call() == stranger.address
