"""node/rpc/debug.py: the debug_trace* methods on a chain in memory."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import rlp
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from node.chain import Chain  # noqa: E402
from node.dev import dev_spec  # noqa: E402
from node.rpc.debug import DebugApi, parse_trace_options  # noqa: E402
from node.rpc.errors import RpcError  # noqa: E402
from node.rpc.eth import EthApi  # noqa: E402
from runtime.primitives.transaction import decode_transaction  # noqa: E402
from runtime.state.store import MemoryStore  # noqa: E402
from tests.contracts.compile import compile_contracts  # noqa: E402
from vm.trace import CallTracer, PrestateTracer, StructLogger  # noqa: E402

KEY = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
SENDER = KEY.address.lower()
TRACING = keccak(rlp.encode([bytes.fromhex(SENDER[2:]), 0]))[12:]


def sign(nonce: int, **fields):
    tx = {"chainId": 31337, "nonce": nonce, "gas": 3_000_000, "value": 0, "type": 2,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, **fields}
    return decode_transaction(bytes(KEY.sign_transaction(tx).raw_transaction))


def calldata(signature: str, *args) -> bytes:
    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    return function_signature_to_4byte_selector(signature) + abi_encode(types, list(args))


@pytest.fixture(scope="module")
def setup():
    """Block 1: deploy Tracing. Block 2: store(5, 7), then nested(3), then failing(1)."""
    store = MemoryStore()
    chain = Chain(store, dev_spec())
    art = compile_contracts(["Tracing"])["Tracing"]
    chain.commit(chain.build([sign(0, data=art.bytecode, value=1000)], timestamp=10))
    second = [
        sign(1, to=TRACING, data=calldata("store(uint256,uint256)", 5, 7)),
        sign(2, to=TRACING, data=calldata("nested(uint256)", 3), value=10),
        sign(3, to=TRACING, data=calldata("failing(uint256)", 1)),
    ]
    block = chain.commit(chain.build(second, timestamp=20))
    assert len(block.transactions) == 3
    api = DebugApi(EthApi(SimpleNamespace(chain=chain)))
    return SimpleNamespace(store=store, chain=chain, api=api, block=block, txs=second)


def _snapshot(store: MemoryStore) -> dict:
    return dict(store._data)


async def test_trace_transaction_replays_the_block_up_to_it(setup) -> None:
    before = _snapshot(setup.store)
    nested = setup.txs[1]
    result = await setup.api.debug_traceTransaction("0x" + nested.hash.hex(), {"tracer": "callTracer", "tracerConfig": {"withLog": True}})
    receipt_gas = setup.block.receipts[1].cumulative_gas_used - setup.block.receipts[0].cumulative_gas_used
    assert result["gasUsed"] == hex(receipt_gas) and len(result["calls"]) == 10
    # store(5, 7) ran before it in the block: counter was 1 when nested() read it.
    assert result["logs"][0]["topics"][1] == "0x" + (2).to_bytes(32, "big").hex()
    assert result["logs"][0]["index"] == "0x0"  # store() logged nothing
    structs = await setup.api.debug_traceTransaction("0x" + nested.hash.hex())
    assert structs["gas"] == receipt_gas and structs["structLogs"][0]["depth"] == 1
    assert _snapshot(setup.store) == before  # tracing wrote nothing


async def test_trace_block_by_number_and_hash(setup) -> None:
    by_number = await setup.api.debug_traceBlockByNumber(hex(2), {"tracer": "callTracer"})
    by_hash = await setup.api.debug_traceBlockByHash("0x" + setup.block.hash.hex(), {"tracer": "callTracer"})
    assert by_number == by_hash
    assert [entry["txHash"] for entry in by_number] == ["0x" + tx.hash.hex() for tx in setup.txs]
    assert by_number[2]["result"]["revertReason"] == "target: nonzero"
    single = await setup.api.debug_traceTransaction("0x" + setup.txs[2].hash.hex(), {"tracer": "callTracer"})
    assert by_number[2]["result"] == single
    latest = await setup.api.debug_traceBlockByNumber("latest", {"tracer": "prestateTracer"})
    assert len(latest) == 3


async def test_trace_call_on_a_block_and_before_a_transaction(setup) -> None:
    counter = {"from": SENDER, "to": "0x" + TRACING.hex(), "data": "0x" + calldata("counter()").hex()}
    after = await setup.api.debug_traceCall(counter, "latest", {"tracer": "callTracer"})
    assert after["output"] == "0x" + (2).to_bytes(32, "big").hex()  # store and nested (failing reverted)
    assert after["gas"] == hex(setup.chain.head.gas_limit)
    before_nested = await setup.api.debug_traceCall(counter, "0x2", {"tracer": "callTracer", "txIndex": "0x1"})
    assert before_nested["output"] == "0x" + (1).to_bytes(32, "big").hex()
    first_block = await setup.api.debug_traceCall(counter, "0x1", {"tracer": "prestateTracer"})
    assert first_block["0x" + TRACING.hex()]["storage"] == {"0x" + "00" * 32: "0x" + "00" * 32}
    logs = await setup.api.debug_traceCall(counter, "latest")
    assert logs["failed"] is False and logs["gas"] > 21000


@pytest.mark.parametrize("call, message", [
    (lambda api: api.debug_traceTransaction("0x" + "11" * 32), "transaction not found"),
    (lambda api: api.debug_traceBlockByNumber("0x0"), "genesis is not traceable"),
    (lambda api: api.debug_traceBlockByNumber("0x9"), "block #9 not found"),
    (lambda api: api.debug_traceBlockByHash("0x" + "22" * 32), "block 0x" + "22" * 32 + " not found"),
    (lambda api: api.debug_traceCall({"to": "0x" + TRACING.hex()}, "pending"), "tracing on top of pending is not supported"),
    (lambda api: api.debug_traceCall({"to": "0x" + TRACING.hex()}, "0x2", {"txIndex": "0x9"}), "transaction index 9 out of range"),
])
async def test_errors_in_geths_words(setup, call, message) -> None:
    with pytest.raises(RpcError, match=message):
        await call(setup.api)


def test_trace_options() -> None:
    assert isinstance(parse_trace_options(None, 1).make_tracer(), StructLogger)
    assert isinstance(parse_trace_options({"tracer": "callTracer", "timeout": "5s"}, 1).make_tracer(), CallTracer)
    prestate = parse_trace_options({"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}, 1).make_tracer()
    assert isinstance(prestate, PrestateTracer) and prestate.config.diff_mode
    logger = parse_trace_options({"enableMemory": True, "disableStack": True, "limit": 10}, 1).make_tracer()
    assert logger.config.enable_memory and logger.config.disable_stack and logger.config.limit == 10
    assert parse_trace_options({"txIndex": "0x2"}, 2, call=True).tx_index == 2
    with pytest.raises(RpcError, match="tracer 'fourByteTracer' is not supported: the tracers are callTracer, prestateTracer"):
        parse_trace_options({"tracer": "fourByteTracer"}, 1)
    with pytest.raises(RpcError, match="cannot use diffMode with includeEmpty"):
        parse_trace_options({"tracer": "prestateTracer", "tracerConfig": {"diffMode": True, "includeEmpty": True}}, 1)
    with pytest.raises(RpcError, match="invalid argument 1: enableMemory: expected a boolean"):
        parse_trace_options({"enableMemory": "yes"}, 1)
    with pytest.raises(RpcError, match="invalid argument 2: stateOverrides are not supported yet"):
        parse_trace_options({"stateOverrides": {"0x00": {}}}, 2, call=True)
    with pytest.raises(RpcError) as refused:
        parse_trace_options("callTracer", 1)
    assert refused.value.code == -32602
