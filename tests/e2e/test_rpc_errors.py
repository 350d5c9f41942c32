"""JSON-RPC errors over raw HTTP: the codes and words Ethereum clients expect, and a node
that is unchanged (same head, same balances) after every refused request."""
from __future__ import annotations

import json

import eth_abi
import pytest
import rlp
from eth_account import Account
from eth_utils import keccak

from tests.e2e.nodes import DEV_ADDRESSES, DEV_CHAIN_ID, DEV_KEYS, raw_hex, sign_transfer

pytestmark = pytest.mark.e2e

MAX_REQUEST = 100_000
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture(scope="module")
def node(module_node_factory, contracts):
    node = module_node_factory("--rpc-max-request-size", str(MAX_REQUEST), name="errors")
    # A Probe contract for eth_call reverts, deployed before the baseline is taken.
    art = contracts["Probe"]
    tx_hash = node.rpc("eth_sendTransaction", {"from": DEV_ADDRESSES[9], "data": "0x" + art.bytecode.hex()})
    receipt = node.wait_receipt(tx_hash)
    assert receipt["status"] == "0x1"
    node.probe = receipt["contractAddress"]
    return node


@pytest.fixture(scope="module")
def baseline(node):
    """Head and balances before any refused request."""
    head = node.rpc("eth_getBlockByNumber", "latest", False)
    balances = {a: node.balance(a) for a in DEV_ADDRESSES}
    nonces = {a: node.nonce(a) for a in DEV_ADDRESSES}
    return head, balances, nonces


def post(node, body) -> tuple[int, object]:
    status, data = node.raw(body if isinstance(body, (bytes, str)) else json.dumps(body))
    return status, json.loads(data)


def call(node, method, *params, id=1) -> dict:
    status, response = post(node, {"jsonrpc": "2.0", "id": id, "method": method, "params": list(params)})
    assert status == 200
    assert response["jsonrpc"] == "2.0" and response["id"] == id
    return response


def error_of(node, method, *params) -> dict:
    response = call(node, method, *params)
    assert "error" in response and "result" not in response, response
    return response["error"]


def send_error(node, raw: str) -> dict:
    error = error_of(node, "eth_sendRawTransaction", raw)
    assert error["code"] == -32000, error
    return error


# --- plain reads (the shared session node) -----------------------------------------------


def test_plain_read_methods(dev_node):
    node = dev_node
    assert node.rpc("eth_chainId") == hex(DEV_CHAIN_ID)
    assert node.rpc("net_version") == str(DEV_CHAIN_ID)
    assert node.rpc("net_listening") is True
    assert node.rpc("web3_clientVersion").startswith("chameleon/")
    assert node.rpc("web3_sha3", "0x68656c6c6f") == "0x" + keccak(b"hello").hex()
    assert [a.lower() for a in node.rpc("eth_accounts")] == [a.lower() for a in DEV_ADDRESSES]
    for tag in ("latest", "earliest", "pending", "safe", "finalized", "0x0"):
        assert node.balance(DEV_ADDRESSES[2], tag) == 10_000 * 10**18, tag
    assert node.rpc("eth_getCode", DEV_ADDRESSES[0], "latest") == "0x"
    assert node.rpc("eth_getStorageAt", DEV_ADDRESSES[0], "0x0", "latest") == "0x" + "00" * 32
    assert int(node.rpc("eth_gasPrice"), 16) > 0
    assert int(node.rpc("eth_maxPriorityFeePerGas"), 16) > 0
    genesis = node.rpc("eth_getBlockByNumber", "0x0", True)
    assert node.rpc("eth_getBlockByHash", genesis["hash"], True) == genesis
    assert node.rpc("eth_getBlockTransactionCountByHash", genesis["hash"]) == "0x0"
    assert node.rpc("eth_getBlockByNumber", "0xffffff", False) is None
    assert node.rpc("eth_getTransactionByHash", "0x" + "00" * 32) is None
    assert node.rpc("eth_getTransactionReceipt", "0x" + "00" * 32) is None


# --- protocol errors ---------------------------------------------------------------------


def test_parse_error(node, baseline):
    status, response = post(node, b"{bad json")
    assert status == 200
    assert response == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": response["error"]["message"]}}
    assert "parse" in response["error"]["message"].lower()


def test_empty_batch_is_invalid_request(node, baseline):
    status, response = post(node, b"[]")
    assert status == 200
    assert isinstance(response, dict)  # one error object, not an array
    assert response["error"]["code"] == -32600
    assert response["id"] is None


def test_request_without_method_is_invalid_request(node, baseline):
    status, response = post(node, b'{"jsonrpc":"2.0"}')
    assert status == 200
    assert response["error"]["code"] == -32600
    assert "invalid request" in response["error"]["message"].lower()
    status, response = post(node, b'{"jsonrpc":"2.0","id":7}')
    assert response["error"]["code"] == -32600 and response["id"] == 7


def test_unknown_method(node, baseline):
    error = error_of(node, "eth_noSuchMethod")
    assert error["code"] == -32601
    assert "eth_noSuchMethod" in error["message"]
    assert "not" in error["message"] and ("exist" in error["message"] or "available" in error["message"])


def test_bad_address_names_the_argument(node, baseline):
    error = error_of(node, "eth_getBalance", "0x1234", "latest")
    assert error["code"] == -32602
    assert "argument 0" in error["message"]
    assert "address" in error["message"] or "20 bytes" in error["message"]
    error = error_of(node, "eth_getBalance", DEV_ADDRESSES[0], "notatag")
    assert error["code"] == -32602 and "argument 1" in error["message"]


# --- transaction admission ---------------------------------------------------------------


def test_nonce_too_low(node, baseline):
    assert node.nonce(DEV_ADDRESSES[9]) >= 1  # it deployed the Probe
    error = send_error(node, raw_hex(sign_transfer(DEV_KEYS[9], 0, DEV_ADDRESSES[1])))
    assert "nonce too low" in error["message"]


def test_insufficient_funds(node, baseline):
    poor = Account.create()
    error = send_error(node, raw_hex(sign_transfer(poor.key, 0, DEV_ADDRESSES[1], value=1)))
    assert "insufficient funds for gas * price + value" in error["message"]
    # Funded, but asking for more than the balance.
    rich = sign_transfer(DEV_KEYS[8], node.nonce(DEV_ADDRESSES[8]), DEV_ADDRESSES[1], value=10**30)
    error = send_error(node, raw_hex(rich))
    assert "insufficient funds for gas * price + value" in error["message"]


def test_intrinsic_gas_too_low(node, baseline):
    signed = sign_transfer(DEV_KEYS[8], node.nonce(DEV_ADDRESSES[8]), DEV_ADDRESSES[1], gas=20_000)
    assert "intrinsic gas too low" in send_error(node, raw_hex(signed))["message"]


def test_invalid_chain_id(node, baseline):
    signed = sign_transfer(DEV_KEYS[8], node.nonce(DEV_ADDRESSES[8]), DEV_ADDRESSES[1], chain_id=1)
    assert "invalid chain id" in send_error(node, raw_hex(signed))["message"]
    legacy = Account.sign_transaction({"nonce": node.nonce(DEV_ADDRESSES[8]), "to": DEV_ADDRESSES[1], "value": 1,
                                       "gas": 21_000, "gasPrice": 10 * 10**9, "chainId": 1}, DEV_KEYS[8])
    assert "invalid chain id" in send_error(node, raw_hex(legacy))["message"]


def _tamper(raw: bytes, **changes: int) -> str:
    """Re-encode a type-2 tx with some of y_parity/r/s replaced."""
    assert raw[0] == 2
    fields = rlp.decode(raw[1:])
    index = {"y_parity": 9, "r": 10, "s": 11}
    for name, value in changes.items():
        fields[index[name]] = rlp.sedes.big_endian_int.serialize(value)
    return "0x02" + rlp.encode(fields).hex()


def test_invalid_sender(node, baseline):
    signed = sign_transfer(DEV_KEYS[8], node.nonce(DEV_ADDRESSES[8]), DEV_ADDRESSES[1])
    raw = bytes(signed.raw_transaction)
    # r = 0 and a high s are not valid signatures: no sender can be recovered.
    for changes in ({"r": 0}, {"s": 0}, {"s": SECP256K1_N - signed.s}, {"y_parity": 5}):
        error = send_error(node, _tamper(raw, **changes))
        assert "invalid sender" in error["message"], (changes, error)
    # A flipped bit in r usually recovers some other (unfunded) address, or none at all:
    # either way a clear -32000 error, never an internal error.
    error = send_error(node, _tamper(raw, r=signed.r ^ 1))
    assert "invalid sender" in error["message"] or "insufficient funds" in error["message"], error


def test_exceeds_block_gas_limit(node, baseline):
    signed = sign_transfer(DEV_KEYS[8], node.nonce(DEV_ADDRESSES[8]), DEV_ADDRESSES[1], gas=40_000_000)
    assert "exceeds block gas limit" in send_error(node, raw_hex(signed))["message"]


@pytest.mark.parametrize("garbage", ["0xdeadbeef", "0xc0", "0x05c0", "0x02deadbeef", "0x"])
def test_rlp_garbage(node, baseline, garbage):
    error = send_error(node, garbage)
    message = error["message"]
    assert message and "internal" not in message.lower(), error
    assert any(word in message.lower() for word in ("rlp", "transaction", "decode", "empty")), error


def test_fee_cap_below_base_fee(node, baseline):
    base_fee = node.base_fee()
    signed = sign_transfer(DEV_KEYS[8], node.nonce(DEV_ADDRESSES[8]), DEV_ADDRESSES[1], max_fee=base_fee // 2, tip=1)
    assert "max fee per gas less than block base fee" in send_error(node, raw_hex(signed))["message"]


def test_already_known(node):
    # The only test here that changes the chain: a tx, then the very same bytes again.
    # Account 7 is excluded from the unchanged-balance check.
    signed = sign_transfer(DEV_KEYS[7], node.nonce(DEV_ADDRESSES[7]), DEV_ADDRESSES[1])
    node.send_raw(signed.raw_transaction)
    error = send_error(node, raw_hex(signed))
    # Anvil and geth: "already known" while pooled, "nonce too low" once mined.
    assert "already known" in error["message"] or "nonce too low" in error["message"]


# --- execution errors ----------------------------------------------------------------------


def test_eth_call_revert_is_code_3_with_data(node, baseline):
    selector = "0x" + keccak(text="fail()")[:4].hex()
    error = error_of(node, "eth_call", {"to": node.probe, "data": selector}, "latest")
    assert error["code"] == 3
    assert error["message"] == "execution reverted: probe: nope"
    assert error["data"] == "0x08c379a0" + eth_abi.encode(["string"], ["probe: nope"]).hex()
    # eth_estimateGas of the same call: the same error.
    error = error_of(node, "eth_estimateGas", {"from": DEV_ADDRESSES[0], "to": node.probe, "data": selector})
    assert error["code"] == 3 and "probe: nope" in error["message"]


# --- HTTP limits -----------------------------------------------------------------------------


def test_request_over_max_size_is_refused_with_413(node, baseline):
    padding = " " * (MAX_REQUEST + 10)
    body = '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]' + padding + "}"
    status, data = node.raw(body)
    assert status == 413, data
    assert b"too large" in data
    # Sent chunked (no Content-Length): refused too once it grows past the limit.
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
    try:
        chunks = (part.encode() for part in [body[:50_000], body[50_000:]])
        try:
            conn.request("POST", "/", body=chunks, headers={"Content-Type": "application/json"}, encode_chunked=True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    # Just under the limit is fine.
    small = '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]' + " " * (MAX_REQUEST - 200) + "}"
    status, data = node.raw(small)
    assert status == 200 and "result" in json.loads(data)


# --- batches -----------------------------------------------------------------------------------


def test_batch_of_mixed_calls_keeps_order_and_ids(node, baseline):
    body = [
        {"jsonrpc": "2.0", "id": "first", "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_getBalance", "params": ["0xnope", "latest"]},
        {"jsonrpc": "2.0", "id": 3, "method": "net_version", "params": []},
    ]
    status, responses = post(node, body)
    assert status == 200
    assert isinstance(responses, list) and len(responses) == 3
    assert [r["id"] for r in responses] == ["first", 2, 3]
    assert responses[0]["result"] == hex(DEV_CHAIN_ID)
    assert responses[1]["error"]["code"] == -32602 and "result" not in responses[1]
    assert responses[2]["result"] == str(DEV_CHAIN_ID)
    # Invalid members and notifications inside a batch.
    status, responses = post(node, [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # notification: no response
        1,
        {"jsonrpc": "2.0", "id": 4, "method": "nope_nope"},
    ])
    assert [(r["id"], "error" in r) for r in responses] == [(1, False), (None, True), (4, True)]
    assert responses[1]["error"]["code"] == -32600
    assert responses[2]["error"]["code"] == -32601


# --- replacement (needs txs to stay pooled) -------------------------------------------------------


@pytest.fixture(scope="module")
def pooled_node(module_node_factory):
    return module_node_factory("--block-time", "3600", name="pooled")


def test_replacement_transaction_underpriced(pooled_node):
    node = pooled_node
    key, sender = DEV_KEYS[3], DEV_ADDRESSES[3]
    tip, max_fee = 2 * 10**9, 40 * 10**9
    first = sign_transfer(key, 0, DEV_ADDRESSES[1], value=1, max_fee=max_fee, tip=tip)
    assert node.send_raw(first.raw_transaction) == "0x" + bytes(first.hash).hex()
    assert node.nonce(sender, "pending") == 1 and node.nonce(sender, "latest") == 0
    # +5%: refused.
    cheap = sign_transfer(key, 0, DEV_ADDRESSES[1], value=2, max_fee=max_fee * 105 // 100, tip=tip * 105 // 100)
    error = send_error(node, raw_hex(cheap))
    assert "replacement transaction underpriced" in error["message"]
    # Only one of the two fees bumped: refused too.
    half = sign_transfer(key, 0, DEV_ADDRESSES[1], value=3, max_fee=max_fee * 2, tip=tip)
    assert "replacement transaction underpriced" in send_error(node, raw_hex(half))["message"]
    # +20%: accepted, and it replaces the first.
    better = sign_transfer(key, 0, DEV_ADDRESSES[1], value=4, max_fee=max_fee * 120 // 100, tip=tip * 120 // 100)
    better_hash = node.send_raw(better.raw_transaction)
    assert better_hash == "0x" + bytes(better.hash).hex()
    pooled = node.rpc("eth_getTransactionByHash", better_hash)
    assert pooled is not None and pooled["blockNumber"] is None and int(pooled["value"], 16) == 4
    assert node.rpc("eth_getTransactionByHash", "0x" + bytes(first.hash).hex()) is None
    assert node.nonce(sender, "pending") == 1 and node.nonce(sender, "latest") == 0
    assert node.block_number() == 0
    # Mined on demand: the replacement is what lands.
    node.rpc("evm_mine")
    receipt = node.wait_receipt(better_hash)
    assert receipt["status"] == "0x1"
    assert node.receipt("0x" + bytes(first.hash).hex()) is None
    assert node.nonce(sender) == 1


# --- the node is unharmed ---------------------------------------------------------------------


def test_node_unchanged_after_refused_requests(node, baseline):
    head, balances, nonces = baseline
    assert node.rpc("eth_chainId") == hex(DEV_CHAIN_ID)
    # test_already_known mined one tx from account 7 (and its fee went to... nobody else
    # here: the dev coinbase is 0x0); everything else was refused.
    number = node.block_number()
    assert number in (int(head["number"], 16), int(head["number"], 16) + 1)
    if number == int(head["number"], 16):
        assert node.rpc("eth_getBlockByNumber", "latest", False)["hash"] == head["hash"]
    else:
        block = node.rpc("eth_getBlockByNumber", "latest", False)
        assert block["parentHash"] == head["hash"] and len(block["transactions"]) == 1
        tx = node.rpc("eth_getTransactionByHash", block["transactions"][0])
        assert tx["from"] == DEV_ADDRESSES[7].lower()
    assert node.rpc("eth_getBlockByNumber", head["number"], False)["hash"] == head["hash"]
    for address in DEV_ADDRESSES:
        if address in (DEV_ADDRESSES[7], DEV_ADDRESSES[1]):
            continue
        assert node.balance(address) == balances[address], address
        assert node.nonce(address) == nonces[address], address
        assert node.nonce(address, "pending") == nonces[address], address
    assert node.rpc("eth_getTransactionCount", DEV_ADDRESSES[8], "pending") == hex(nonces[DEV_ADDRESSES[8]])


# --- WebSocket on the same port ---------------------------------------------------------------


def test_websocket_on_the_rpc_port(dev_node):
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{dev_node.port}", open_timeout=10) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}))
        assert json.loads(ws.recv(timeout=10)) == {"jsonrpc": "2.0", "id": 1, "result": hex(DEV_CHAIN_ID)}
        ws.send(json.dumps([{"jsonrpc": "2.0", "id": "a", "method": "net_version"},
                            {"jsonrpc": "2.0", "id": "b", "method": "eth_nope"}]))
        batch = json.loads(ws.recv(timeout=10))
        assert [r["id"] for r in batch] == ["a", "b"]
        assert batch[0]["result"] == str(DEV_CHAIN_ID) and batch[1]["error"]["code"] == -32601
        ws.send("{bad json")
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == -32700


def test_txpool_namespace_shows_pending_and_queued(node_factory):
    from tests.e2e.nodes import DEV_ADDRESSES, DEV_KEYS, raw_hex, sign_transfer

    node = node_factory("--block-time", "3600", name="pool")
    node.send_raw(raw_hex(sign_transfer(DEV_KEYS[3], 0, DEV_ADDRESSES[1])))
    node.send_raw(raw_hex(sign_transfer(DEV_KEYS[3], 2, DEV_ADDRESSES[1])))  # behind a gap
    assert node.rpc("txpool_status") == {"pending": "0x1", "queued": "0x1"}
    content = node.rpc("txpool_content")
    sender = next(iter(content["pending"]))
    assert sender.lower() == DEV_ADDRESSES[3].lower()
    assert list(content["pending"][sender]) == ["0"] and list(content["queued"][sender]) == ["2"]
    assert content["pending"][sender]["0"]["blockHash"] is None
    inspect = node.rpc("txpool_inspect")
    assert inspect["queued"][sender]["2"].endswith("gas × 20000000000 wei")
