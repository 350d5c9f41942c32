"""Anvil's dev methods, side by side: one script of anvil_/hardhat_/evm_ calls, signing and
impersonated sends runs against a real Anvil (node_modules, `--hardfork prague`) and against
`chameleon dev`, and every answer is compared: balances, nonces, code, storage, receipts and
hashes of impersonated sends, the signatures of eth_sign, personal_sign,
eth_signTypedData_v4 and eth_signTransaction (byte for byte), and the errors (code and
message). Where Chameleon differs from Anvil on purpose (snapshot ids, dump format, block
numbers after anvil_loadState, automine with interval mining), the script records what both
must agree on and the rest is checked on its own.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.nodes import DEV_ADDRESSES, DEV_BALANCE, REPO_ROOT, DevNode, RpcFailure

pytestmark = pytest.mark.e2e

ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"

DEV0 = DEV_ADDRESSES[0].lower()
TARGET = "0x" + "55" * 20
HARDHAT_TARGET = "0x" + "66" * 20
IMPERSONATED = "0x" + "33" * 20
AUTO_IMPERSONATED = "0x" + "77" * 20
RECIPIENT = "0x" + "44" * 20
WORD = "0x" + "00" * 31 + "42"
OTHER_WORD = "0x" + "ab" * 32
RETURN_SELFBALANCE = "0x4760005260206000f3"
# Init code: SSTORE(0, 42); LOG1(topic 0x11…11) with no data; STOP (an empty contract).
INIT_CODE = "0x602a600055" + "7f" + "11" * 32 + "60006000a1" + "00"
TYPED_DATA = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                         {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
        "Permit": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                   {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                   {"name": "deadline", "type": "uint256"}],
    },
    "primaryType": "Permit",
    "domain": {"name": "Token", "version": "1", "chainId": 31337, "verifyingContract": TARGET},
    "message": {"owner": DEV_ADDRESSES[0], "spender": DEV_ADDRESSES[1], "value": "1000000000000000000",
                "nonce": 0, "deadline": 2**40},
}
# Not effectiveGasPrice: Anvil's first block keeps the genesis base fee where Chameleon
# applies EIP-1559 from genesis on, so their base fees differ by one block's step.
RECEIPT_FIELDS = ("status", "gasUsed", "cumulativeGasUsed", "from", "to", "type", "contractAddress",
                  "transactionHash", "transactionIndex", "logsBloom")
TX_FIELDS = ("hash", "from", "to", "nonce", "type", "gas", "value", "input", "v", "r", "s", "yParity", "chainId")


class AnvilNode(DevNode):
    """Anvil from node_modules on a free port, with the same life cycle helpers as a chameleon node."""

    def argv(self, port: int) -> list[str]:
        return [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--hardfork", "prague", "--silent"]


@pytest.fixture
def anvil(tmp_path):
    if not ANVIL.exists():
        pytest.skip(f"Anvil not installed at {ANVIL} (npm ci)")
    node = AnvilNode(tmp_path / "anvil", name="anvil")
    try:
        yield node.start()
    finally:
        node.close()


def call(node: DevNode, method: str, *params: Any) -> Any:
    """The result, or ("error", code, message) for an error response. Params that do not
    parse give -32602 on both, in each node's own words (serde's on Anvil, geth's
    "invalid argument N: …" on Chameleon): for those only the code is kept."""
    try:
        return node.rpc(method, *params)
    except RpcFailure as exc:
        if exc.code == -32602 and (exc.message.startswith("invalid argument") or exc.message == "invalid string length"):
            return ("error", exc.code)
        return ("error", exc.code, exc.message)


def fee_paid(receipt: dict) -> int:
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def pick(obj: dict, fields: tuple[str, ...]) -> dict:
    return {f: obj.get(f) for f in fields}


def run_script(node: DevNode) -> list[tuple[str, Any]]:
    """The same calls against either node; what both must answer alike."""
    out: list[tuple[str, Any]] = []

    def record(label: str, method: str, *params: Any) -> Any:
        result = call(node, method, *params)
        out.append((label, result))
        return result

    def reads(label: str, address: str) -> None:
        record(f"{label} balance", "eth_getBalance", address, "latest")
        record(f"{label} nonce", "eth_getTransactionCount", address, "latest")
        record(f"{label} code", "eth_getCode", address, "latest")
        record(f"{label} slot 1", "eth_getStorageAt", address, "0x1", "latest")
        record(f"{label} slot 2", "eth_getStorageAt", address, "0x2", "latest")

    # -- state edits: read at once, no block -----------------------------------------------
    record("setBalance", "anvil_setBalance", TARGET, "0x1bc16d674ec80000")
    record("setNonce", "anvil_setNonce", TARGET, "0x5")
    record("setCode", "anvil_setCode", TARGET, RETURN_SELFBALANCE)
    record("setStorageAt", "anvil_setStorageAt", TARGET, "0x1", WORD)
    record("setStorageAt padded slot", "anvil_setStorageAt", TARGET, "0x" + "00" * 31 + "02", OTHER_WORD)
    reads("edited", TARGET)
    record("head number after edits", "eth_blockNumber")
    record("call at head", "eth_call", {"to": TARGET}, "latest")
    record("balance at head number", "eth_getBalance", TARGET, "0x0")
    record("hardhat_setBalance", "hardhat_setBalance", HARDHAT_TARGET, "0x3e8")
    record("hardhat_setNonce", "hardhat_setNonce", HARDHAT_TARGET, "0x2")
    record("hardhat_setCode", "hardhat_setCode", HARDHAT_TARGET, "0x6001600101")
    record("hardhat_setStorageAt", "hardhat_setStorageAt", HARDHAT_TARGET, "0x1", WORD)
    reads("hardhat-edited", HARDHAT_TARGET)
    record("setStorageAt short value", "anvil_setStorageAt", TARGET, "0x1", "0x42")
    record("setBalance bad address", "anvil_setBalance", "0x1234", "0x1")

    # -- the next block builds on the edits ----------------------------------------------
    record("setBalance dev0", "anvil_setBalance", DEV0, hex(5 * 10**18))
    signed = record("signTransaction", "eth_signTransaction", {
        "from": DEV0, "to": RECIPIENT, "value": hex(10**18), "gas": "0x5208",
        "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00", "nonce": "0x0"})
    sent = record("sendRawTransaction of it", "eth_sendRawTransaction", signed)
    receipt = node.wait_receipt(sent)
    out.append(("receipt of signed", pick(receipt, RECEIPT_FIELDS)))
    out.append(("dev0 balance after a block on the edit, plus the fee",
                int(node.rpc("eth_getBalance", DEV0, "latest"), 16) + fee_paid(receipt)))
    record("head number after a block", "eth_blockNumber")

    # -- impersonation --------------------------------------------------------------------
    record("fund impersonated", "anvil_setBalance", IMPERSONATED, hex(10**19))
    unsigned = {"from": IMPERSONATED, "to": RECIPIENT, "value": "0x1", "gas": "0x5208",
                "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00", "nonce": "0x0"}
    record("send before impersonating", "eth_sendTransaction", unsigned)
    record("impersonate", "anvil_impersonateAccount", IMPERSONATED)
    record("accounts while impersonating", "eth_accounts")
    sends = [
        unsigned,
        {"from": IMPERSONATED, "to": RECIPIENT, "value": "0x2", "gas": "0x5208", "gasPrice": "0x77359400", "nonce": "0x1"},
        {"from": IMPERSONATED, "data": INIT_CODE, "gas": "0x30d40", "maxFeePerGas": "0x77359400",
         "maxPriorityFeePerGas": "0x3b9aca00", "nonce": "0x2"},
    ]
    for i, tx in enumerate(sends):
        tx_hash = record(f"impersonated send {i}", "eth_sendTransaction", tx)
        if isinstance(tx_hash, str):
            rcpt = node.wait_receipt(tx_hash)
            out.append((f"impersonated receipt {i}", pick(rcpt, RECEIPT_FIELDS)))
            out.append((f"impersonated receipt {i} logs", [pick(log, ("address", "topics", "data")) for log in rcpt["logs"]]))
            out.append((f"impersonated tx {i}", pick(node.rpc("eth_getTransactionByHash", tx_hash), TX_FIELDS)))
            if rcpt.get("contractAddress"):
                record("storage of the created contract", "eth_getStorageAt", rcpt["contractAddress"], "0x0", "latest")
    record("impersonated nonce", "eth_getTransactionCount", IMPERSONATED, "latest")
    record("recipient balance", "eth_getBalance", RECIPIENT, "latest")
    record("hardhat_stopImpersonatingAccount", "hardhat_stopImpersonatingAccount", IMPERSONATED)
    record("send after stopping", "eth_sendTransaction", {**unsigned, "nonce": "0x3"})
    record("hardhat_impersonateAccount", "hardhat_impersonateAccount", IMPERSONATED)
    record("stop again", "anvil_stopImpersonatingAccount", IMPERSONATED)
    record("fund auto", "anvil_setBalance", AUTO_IMPERSONATED, hex(10**18))
    record("autoImpersonate on", "anvil_autoImpersonateAccount", True)
    auto_hash = record("auto-impersonated send", "eth_sendTransaction", {**unsigned, "from": AUTO_IMPERSONATED})
    if isinstance(auto_hash, str):
        out.append(("auto-impersonated receipt", pick(node.wait_receipt(auto_hash), RECEIPT_FIELDS)))
    record("accounts with auto-impersonation", "eth_accounts")
    record("autoImpersonate off", "anvil_autoImpersonateAccount", False)

    # -- signing ---------------------------------------------------------------------------
    record("eth_sign", "eth_sign", DEV0, "0xdeadbeef")
    record("personal_sign", "personal_sign", "0x48656c6c6f", DEV_ADDRESSES[1])
    record("eth_signTypedData_v4", "eth_signTypedData_v4", DEV_ADDRESSES[2], TYPED_DATA)
    record("signTransaction legacy", "eth_signTransaction", {
        "from": DEV_ADDRESSES[3], "to": RECIPIENT, "value": "0x1", "gas": "0x5208", "gasPrice": "0x3b9aca00", "nonce": "0x7"})
    record("signTransaction access list", "eth_signTransaction", {
        "from": DEV_ADDRESSES[4], "to": RECIPIENT, "gas": "0x7530", "gasPrice": "0x3b9aca00", "nonce": "0x1",
        "type": "0x1", "accessList": [{"address": TARGET, "storageKeys": [WORD]}]})
    record("signTransaction no from", "eth_signTransaction", {
        "to": RECIPIENT, "value": "0x1", "gas": "0x5208", "gasPrice": "0x1", "nonce": "0x7"})
    record("eth_sign unknown", "eth_sign", IMPERSONATED, "0xdeadbeef")
    record("personal_sign unknown", "personal_sign", "0xdeadbeef", IMPERSONATED)
    record("signTypedData unknown", "eth_signTypedData_v4", IMPERSONATED, TYPED_DATA)
    record("signTransaction unknown", "eth_signTransaction", {"from": IMPERSONATED, "to": RECIPIENT, "gas": "0x5208"})

    # -- snapshots restore edits -------------------------------------------------------------
    snap = call(node, "evm_snapshot")
    record("edit after snapshot", "anvil_setBalance", TARGET, "0x1")
    record("mine after snapshot", "evm_mine")
    record("revert", "evm_revert", snap)
    reads("after revert", TARGET)
    record("head number after revert", "eth_blockNumber")

    # -- mining ----------------------------------------------------------------------------
    record("hardhat_mine", "hardhat_mine", "0x3")
    record("anvil_mine with interval", "anvil_mine", "0x2", "0x3c")
    record("evm_mine options", "evm_mine", {"timestamp": 4_000_000_000, "blocks": 2})
    record("head after mining", "eth_blockNumber")
    head = node.rpc("eth_getBlockByNumber", "latest", False)
    out.append(("timestamp of evm_mine options", int(head["timestamp"], 16) >= 4_000_000_000))
    record("automine", "anvil_getAutomine")
    record("setIntervalMining", "evm_setIntervalMining", 30)
    record("automine with interval", "anvil_getAutomine")
    record("interval", "anvil_getIntervalMining")
    record("setIntervalMining 0", "evm_setIntervalMining", 0)
    record("automine without interval", "anvil_getAutomine")
    record("no interval", "anvil_getIntervalMining")
    record("setAutomine", "evm_setAutomine", True)

    # -- dump, reset, load ---------------------------------------------------------------------
    dump = node.rpc("anvil_dumpState")
    record("reset", "anvil_reset")
    record("head after reset", "eth_blockNumber")
    record("dev0 after reset", "eth_getBalance", DEV0, "latest")
    reads("after reset", TARGET)
    record("loadState", "anvil_loadState", dump)
    reads("loaded", TARGET)
    reads("hardhat loaded", HARDHAT_TARGET)
    record("impersonated nonce loaded", "eth_getTransactionCount", IMPERSONATED, "latest")
    record("loadState garbage", "anvil_loadState", "0x1234")
    return out


def test_the_same_script_gives_the_same_answers_on_anvil_and_chameleon(anvil, node_factory):
    chameleon = node_factory()
    expected = run_script(anvil)
    got = run_script(chameleon)
    assert [label for label, _ in got] == [label for label, _ in expected]
    mismatches = [(label, want, have) for (label, want), (_, have) in zip(expected, got) if want != have]
    assert not mismatches, "\n".join(f"{label}:\n  anvil:     {want!r}\n  chameleon: {have!r}" for label, want, have in mismatches)
    results = dict(got)
    # A few answers that the comparison alone would let pass if both were wrong the same way.
    assert results["edited balance"] == "0x1bc16d674ec80000" and results["head number after edits"] == "0x0"
    assert results["impersonated receipt 2"]["status"] == "0x1" and results["impersonated receipt 2"]["contractAddress"]
    assert results["send after stopping"] == ("error", -32602, "No Signer available")
    assert results["dev0 balance after a block on the edit, plus the fee"] == 4 * 10**18
    assert results["dev0 after reset"] == hex(DEV_BALANCE)
    assert results["loaded balance"] == "0x1bc16d674ec80000"


def test_chameleon_loads_an_anvil_dump(anvil, node_factory):
    chameleon = node_factory()
    anvil.rpc("anvil_setBalance", TARGET, "0x1234")
    anvil.rpc("anvil_setCode", TARGET, RETURN_SELFBALANCE)
    anvil.rpc("anvil_setNonce", TARGET, "0x9")
    anvil.rpc("anvil_setStorageAt", TARGET, "0x2", OTHER_WORD)
    assert chameleon.rpc("anvil_loadState", anvil.rpc("anvil_dumpState")) is True
    for method, *params in (("eth_getBalance",), ("eth_getCode",), ("eth_getTransactionCount",), ("eth_getStorageAt", "0x2")):
        assert chameleon.rpc(method, TARGET, *params, "latest") == anvil.rpc(method, TARGET, *params, "latest")
    assert chameleon.rpc("eth_call", {"to": TARGET}) == anvil.rpc("eth_call", {"to": TARGET})


def test_edits_survive_a_restart_and_snapshots_keep_them(node_factory):
    node = node_factory()
    node.rpc("anvil_setBalance", TARGET, "0x77")
    node.rpc("anvil_setStorageAt", TARGET, "0x1", WORD)
    node.restart()
    assert node.balance(TARGET) == 0x77
    assert node.rpc("eth_getStorageAt", TARGET, "0x1", "latest") == WORD
    snap = node.rpc("evm_snapshot")
    node.rpc("anvil_setBalance", TARGET, "0x1")
    node.rpc("evm_mine")
    assert node.rpc("evm_revert", snap) is True
    assert node.balance(TARGET) == 0x77 and node.block_number() == 0
    # The next block is built on the edited state.
    tx_hash = node.rpc("eth_sendTransaction", {"from": DEV0, "to": TARGET, "value": "0x3"})
    assert node.wait_receipt(tx_hash)["status"] == "0x1"
    assert node.balance(TARGET) == 0x77 + 3


def test_interval_mining_and_automine_together(node_factory):
    node = node_factory()
    node.rpc("evm_setIntervalMining", 1)
    node.rpc("evm_setAutomine", True)  # both on: Anvil would stop the interval here
    assert node.rpc("anvil_getAutomine") is True and node.rpc("anvil_getIntervalMining") == 1
    tx_hash = node.rpc("eth_sendTransaction", {"from": DEV0, "to": TARGET, "value": "0x1"})
    assert node.receipt(tx_hash) is not None  # sealed at once
    start = node.block_number()
    deadline = time.monotonic() + 15
    while node.block_number() < start + 2:
        assert time.monotonic() < deadline, "no interval blocks"
        time.sleep(0.2)
    node.rpc("evm_setIntervalMining", 0)
    assert node.rpc("anvil_getAutomine") is False and node.rpc("anvil_getIntervalMining") is None


def test_forking_reset_is_refused(node_factory):
    node = node_factory()
    with pytest.raises(RpcFailure) as failure:
        node.rpc("anvil_reset", {"forking": {"jsonRpcUrl": "http://127.0.0.1:1", "blockNumber": 1}})
    assert failure.value.code == -32602 and "forking is not supported" in failure.value.message
    with pytest.raises(RpcFailure):
        node.rpc("hardhat_reset", {"forking": {"jsonRpcUrl": "http://127.0.0.1:1"}})


def test_dev_methods_do_not_exist_on_a_validator_node(node_factory, tmp_path):
    from tests.e2e.test_engines import write_key, write_spec

    node = node_factory("--chain", str(write_spec(tmp_path, "poa")), "--validator-key", str(write_key(tmp_path)),
                        command="run", name="validator")
    calls = [("anvil_setBalance", TARGET, "0x1"), ("hardhat_setCode", TARGET, "0x60"), ("anvil_impersonateAccount", TARGET),
             ("evm_setIntervalMining", 1), ("anvil_dumpState",), ("anvil_reset",), ("eth_sign", DEV0, "0x00"),
             ("eth_signTransaction", {"from": DEV0})]
    for method, *params in calls:
        with pytest.raises(RpcFailure) as failure:
            node.rpc(method, *params)
        assert (failure.value.code, failure.value.message) == (-32601, f"the method {method} does not exist/is not available")
    assert node.balance(TARGET) == 0
