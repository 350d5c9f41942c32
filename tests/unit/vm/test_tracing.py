"""vm.trace: the struct logger, callTracer and prestateTracer on tests/contracts/Tracing.sol.

One block holds the deployment and a call of each kind; every test re-executes that block
on its parent's state up to the transaction it traces, as debug_traceTransaction does.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from node.dev import dev_spec  # noqa: E402
from runtime.executive import block_context, build_block, build_genesis  # noqa: E402
from runtime.primitives.transaction import decode_transaction  # noqa: E402
from runtime.state.store import MemoryStore, StateDB  # noqa: E402
from tests.contracts.compile import compile_contracts  # noqa: E402
from vm import evm  # noqa: E402
from vm.trace import (  # noqa: E402
    CallTracer,
    CallTracerConfig,
    PrestateTracer,
    PrestateTracerConfig,
    StructLogger,
    StructLoggerConfig,
    trace_call,
    trace_transaction,
)

KEY = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
SENDER = bytes.fromhex(KEY.address[2:])
COINBASE = b"\x01" * 20
GAS = 3_000_000
TRACING = keccak(rlp.encode([SENDER, 0]))[12:]  # deployed by the first transaction
TARGET = keccak(rlp.encode([TRACING, 1]))[12:]  # created by Tracing's constructor
ERROR_REASON = "target: nonzero"


def calldata(signature: str, *args) -> bytes:
    types = signature[signature.index("(") + 1 : -1]
    return function_signature_to_4byte_selector(signature) + abi_encode([t for t in types.split(",") if t], list(args))


class Chain:
    """Genesis, then one block of TXS; ``replay(i)`` is the state just before transaction i."""

    def __init__(self, txs: dict[str, dict]) -> None:
        self.store = MemoryStore()
        self.genesis, writes = build_genesis(dev_spec(), self.store)
        self.store.write(writes)
        self.names = list(txs)
        self.txs = [self._sign(nonce, fields) for nonce, fields in enumerate(txs.values())]
        self.built = build_block(self.store, self.genesis, self.txs, timestamp=100, coinbase=COINBASE,
                                 chain_id=31337, prev_hashes=[self.genesis.hash])
        assert not self.built.rejected
        self.store.write(self.built.state_writes)

    @staticmethod
    def _sign(nonce: int, fields: dict):
        tx = {"chainId": 31337, "nonce": nonce, "gas": GAS, "value": 0, "type": 2,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, **fields}
        return decode_transaction(bytes(KEY.sign_transaction(tx).raw_transaction))

    def replay(self, index: int) -> evm.EvmState:
        context = block_context(self.genesis, timestamp=100, coinbase=COINBASE, chain_id=31337,
                                prev_hashes=[self.genesis.hash])
        state = evm.open_state(StateDB(self.store), context, self.genesis.state_root)
        for tx in self.txs[:index]:
            evm.execute(state, tx.evm)
        return state

    def call_state(self) -> evm.EvmState:
        """The state after the block, for calls that name no fee (base fee 0, as eth_call)."""
        context = block_context(self.genesis, timestamp=100, coinbase=COINBASE, chain_id=31337,
                                prev_hashes=[self.genesis.hash])
        return evm.open_state(StateDB(self.store), replace(context, base_fee=0), self.built.header.state_root)

    def trace(self, name: str, tracer):
        index = self.names.index(name)
        logs_before = sum(len(r.logs) for r in self.built.receipts[:index])
        outcome = trace_transaction(self.replay(index), self.txs[index].evm, tracer, log_index=logs_before)
        assert outcome.gas_used == self.built.outcomes[index].gas_used  # the same execution
        return tracer.result()

    def receipt_gas(self, name: str) -> int:
        return self.built.outcomes[self.names.index(name)].gas_used


@pytest.fixture(scope="module")
def chain() -> Chain:
    art = compile_contracts(["Tracing"])["Tracing"]
    return Chain({
        "deploy": {"data": art.bytecode, "value": 1000},
        "store": {"to": TRACING, "data": calldata("store(uint256,uint256)", 5, 7)},
        "nested": {"to": TRACING, "data": calldata("nested(uint256)", 3), "value": 10},
        "failing": {"to": TRACING, "data": calldata("failing(uint256)", 1)},
        "overdraw": {"to": TRACING, "data": calldata("overdraw()")},
    })


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _revert_data(reason: str) -> str:
    return "0x08c379a0" + abi_encode(["string"], [reason]).hex()


# -- struct logger ----------------------------------------------------------------------

def test_struct_logs_of_storage_writes_add_up_to_gas_used(chain: Chain) -> None:
    result = chain.trace("store", StructLogger())
    logs = result["structLogs"]
    assert result["gas"] == chain.receipt_gas("store") and result["failed"] is False and result["returnValue"] == "0x"
    tx = chain.txs[chain.names.index("store")]
    assert logs[0] == {"pc": 0, "op": "PUSH1", "gas": GAS - tx.intrinsic_gas, "gasCost": 3, "depth": 1, "stack": []}
    assert logs[-1]["op"] == "STOP"
    # Each step leaves what the next one starts with; no refund here, so the costs and the
    # intrinsic gas make the receipt's gas used.
    for step, following in zip(logs, logs[1:]):
        assert following["gas"] == step["gas"] - step["gasCost"]
    assert tx.intrinsic_gas + sum(step["gasCost"] for step in logs) == chain.receipt_gas("store")

    storage_ops = [step for step in logs if step["op"] in ("SLOAD", "SSTORE")]
    assert [step["op"] for step in storage_ops] == ["SSTORE", "SLOAD", "SSTORE"]
    mapping_slot = int.from_bytes(keccak(abi_encode(["uint256", "uint256"], [5, 1])), "big")  # slots[5]
    assert storage_ops[0]["gasCost"] == 22100  # cold, zero to non-zero
    assert storage_ops[0]["storage"] == {_word(mapping_slot): _word(7)}
    assert storage_ops[0]["stack"][-2:] == [hex(7), hex(mapping_slot)]  # value, then the slot on top
    assert storage_ops[1]["storage"] == {_word(0): _word(0), _word(mapping_slot): _word(7)}  # counter read
    assert storage_ops[2]["storage"] == {_word(0): _word(1), _word(mapping_slot): _word(7)}
    assert all("memory" not in step and "returnData" not in step and "refund" not in step for step in logs)


def test_struct_logger_options(chain: Chain) -> None:
    plain = chain.trace("store", StructLogger())["structLogs"]
    full = chain.trace("store", StructLogger(StructLoggerConfig(enable_memory=True, enable_return_data=True)))["structLogs"]
    bare = chain.trace("store", StructLogger(StructLoggerConfig(disable_stack=True, disable_storage=True)))["structLogs"]
    assert [s["op"] for s in full] == [s["op"] for s in bare] == [s["op"] for s in plain]
    assert "memory" not in full[2] and full[3]["memory"] == [_word(0), _word(0), _word(0x80)]  # after MSTORE 0x40
    assert all("stack" not in s and "storage" not in s for s in bare)
    limited = chain.trace("store", StructLogger(StructLoggerConfig(limit=500)))["structLogs"]
    assert 1 < len(limited) < len(plain)


def test_struct_logs_across_calls_and_creates(chain: Chain) -> None:
    logs = chain.trace("nested", StructLogger())["structLogs"]
    calls = chain.trace("nested", CallTracer())["calls"]
    entries = [i for i, s in enumerate(logs) if s["op"] in ("CALL", "STATICCALL", "DELEGATECALL", "CREATE", "CREATE2")]
    assert [logs[i]["op"] for i in entries] == [c["type"] for c in calls]
    for i, frame in zip(entries, calls):
        step, first = logs[i], logs[i + 1]
        if frame["to"] == "0x" + "00" * 19 + "02":  # a precompile runs no steps
            assert first["depth"] == 1
            continue
        assert first["depth"] == 2 and first["pc"] == 0 and first["gas"] == int(frame["gas"], 16)
    first_call = logs[entries[0]]
    # As geth: a CALL costs its access (cold: 2600), the value transfer (9000) and the gas
    # handed over (the callee gets 2300 more, free); CREATE costs 32000 and the init code
    # words, the gas handed over is not part of the step.
    assert first_call["gasCost"] == 2600 + 9000 + int(calls[0]["gas"], 16) - 2300
    init_code = bytes.fromhex(calls[6]["input"][2:])
    assert logs[entries[6]]["gasCost"] == 32000 + 2 * ((len(init_code) + 31) // 32)
    depth_one = [s for s in logs if s["depth"] == 1]
    for step, following in zip(logs, logs[1:]):
        if step["depth"] == following["depth"] and step["op"] not in ("CALL", "STATICCALL", "DELEGATECALL", "CREATE", "CREATE2"):
            assert following["gas"] == step["gas"] - step["gasCost"]
    assert depth_one[-1]["op"] == "RETURN"
    reverts = [s for s in logs if s["op"] == "REVERT"]
    assert len(reverts) == 3 and all("error" not in s for s in reverts)  # geth: the fault is not the step's


def test_struct_logger_on_a_revert(chain: Chain) -> None:
    result = chain.trace("failing", StructLogger())
    assert result["failed"] is True and result["gas"] == chain.receipt_gas("failing")
    assert result["returnValue"] == _revert_data(ERROR_REASON)
    assert result["structLogs"][-1]["op"] == "REVERT"


def test_refund_counter_shows_on_steps(chain: Chain) -> None:
    # A zero written over a set slot refunds: slots[5] = 0 after store(5, 7).
    extra = Chain({
        "deploy": {"data": compile_contracts(["Tracing"])["Tracing"].bytecode},
        "store": {"to": TRACING, "data": calldata("store(uint256,uint256)", 5, 7)},
        "clear": {"to": TRACING, "data": calldata("store(uint256,uint256)", 5, 0)},
    })
    logs = extra.trace("clear", StructLogger())["structLogs"]
    first_sstore = next(i for i, s in enumerate(logs) if s["op"] == "SSTORE")
    assert "refund" not in logs[first_sstore]
    assert logs[first_sstore + 1]["refund"] == 4800  # EIP-3529: clearing a slot
    assert logs[-1]["refund"] == 4800


def test_faults_as_geth_words_them() -> None:
    chain = Chain({"deploy": {"data": b"\x00"}})  # an empty block would do; any state will

    def run(code: bytes, tracer, gas: int = 100_000):
        state = chain.call_state()
        trace_call(state, tracer, sender=SENDER, to=None, data=code, value=0, gas=gas,
                   max_fee_per_gas=0, max_priority_fee_per_gas=0)
        return tracer.result()

    underflow = run(b"\x01", StructLogger())
    assert underflow["failed"] is True and underflow["returnValue"] == "0x"
    assert underflow["structLogs"] == [{"pc": 0, "op": "ADD", "gas": underflow["structLogs"][0]["gas"], "gasCost": 3,
                                        "depth": 1, "error": "stack underflow (0 <=> 2)", "stack": []}]
    assert run(b"\x01", CallTracer())["error"] == "stack underflow (0 <=> 2)"
    assert run(b"\xfe", CallTracer())["error"] == "invalid opcode: INVALID"
    assert run(b"\x0c", CallTracer())["error"] == "invalid opcode: opcode 0xc not defined"
    assert run(bytes.fromhex("600056"), CallTracer())["error"] == "invalid jump destination"
    loop = run(bytes.fromhex("5b600056"), StructLogger(), gas=53_100)  # JUMPDEST PUSH1 0 JUMP, forever
    assert loop["failed"] is True and loop["structLogs"][-1]["error"] == "out of gas"
    top = run(bytes.fromhex("5b600056"), CallTracer(), gas=53_100)
    assert top["error"] == "out of gas" and top["gasUsed"] == hex(53_100) and "to" not in top


# -- callTracer -------------------------------------------------------------------------

def test_call_tracer_nests_every_kind_of_call(chain: Chain) -> None:
    result = chain.trace("nested", CallTracer())
    target = "0x" + TARGET.hex()
    assert result["type"] == "CALL" and result["from"] == "0x" + SENDER.hex() and result["to"] == "0x" + TRACING.hex()
    assert result["gas"] == hex(GAS) and result["gasUsed"] == hex(chain.receipt_gas("nested"))
    assert result["value"] == "0xa" and result["input"] == "0x" + calldata("nested(uint256)", 3).hex()
    calls = result["calls"]
    assert [c["type"] for c in calls] == ["CALL", "CALL", "STATICCALL", "STATICCALL", "DELEGATECALL", "STATICCALL",
                                          "CREATE", "CREATE2", "CALL", "CALL"]
    poke, fail, divide, peek, delegate, sha, made, salted, poke1, poke2 = calls
    assert poke["to"] == target and poke["value"] == "0xa" and poke["output"] == _word(6)
    assert "error" not in poke and "calls" not in poke and "logs" not in poke
    assert fail["error"] == "execution reverted" and fail["revertReason"] == ERROR_REASON
    assert fail["output"] == _revert_data(ERROR_REASON) and fail["value"] == "0x0"
    assert divide["revertReason"] == "division or modulo by zero" and "value" not in divide
    assert peek["output"] == _word(3) and "value" not in peek
    # DELEGATECALL keeps the caller's value (and peek() is not payable, so it reverts, silently).
    assert delegate["value"] == "0xa" and delegate["error"] == "execution reverted" and "output" not in delegate
    assert delegate["from"] == "0x" + TRACING.hex() and delegate["to"] == target
    assert sha["to"] == "0x" + "00" * 19 + "02" and sha["gasUsed"] == hex(72)
    made_address = keccak(rlp.encode([TRACING, 2]))[12:]
    assert made["to"] == "0x" + made_address.hex() and made["output"].startswith("0x6080")
    assert {poke1["to"], poke2["to"]} == {made["to"], salted["to"]}
    assert all(int(c["gasUsed"], 16) <= int(c["gas"], 16) for c in calls)


def test_call_tracer_on_a_reverted_transaction(chain: Chain) -> None:
    result = chain.trace("failing", CallTracer(CallTracerConfig(with_log=True)))
    assert result["error"] == "execution reverted" and result["revertReason"] == ERROR_REASON
    assert result["output"] == _revert_data(ERROR_REASON)
    (inner,) = result["calls"]
    assert inner["revertReason"] == ERROR_REASON
    # withLog drops the logs of failed frames (geth; Anvil keeps the top frame's).
    assert "logs" not in result and "logs" not in inner


def test_call_tracer_only_top_call_and_logs(chain: Chain) -> None:
    top = chain.trace("nested", CallTracer(CallTracerConfig(only_top_call=True, with_log=True)))
    assert "calls" not in top
    assert [log["index"] for log in top["logs"]] == ["0x0", "0x4"]
    assert [log["position"] for log in top["logs"]] == ["0x0", "0x0"]  # no calls recorded: none before
    full = chain.trace("nested", CallTracer(CallTracerConfig(with_log=True)))
    poke, fail = full["calls"][:2]
    assert poke["logs"] == [{
        "address": "0x" + TARGET.hex(),
        "topics": ["0x" + keccak(b"Poked(address,uint256)").hex(), "0x" + (b"\0" * 12 + TRACING).hex()],
        "data": _word(3),
        "index": "0x1",  # logs before it in the block: the deployment's none, Step just now
        "position": "0x0",
    }]
    assert "logs" not in fail  # reverted: its log went, and the next log takes its index
    assert [c["logs"][0]["index"] for c in full["calls"][8:]] == ["0x2", "0x3"]
    assert [log["position"] for log in full["logs"]] == ["0x0", "0xa"]  # before any call, after all ten
    assert [log["index"] for log in full["logs"]] == ["0x0", "0x4"]


def test_call_refused_before_the_callee_is_a_failed_frame(chain: Chain) -> None:
    result = chain.trace("overdraw", CallTracer())
    (refused,) = result["calls"]
    assert refused == {
        "from": "0x" + TRACING.hex(),
        "gas": refused["gas"],
        "gasUsed": "0x0",
        "to": "0x" + TARGET.hex(),
        "input": "0x",
        "error": "insufficient balance for transfer",
        "value": hex(1000 + 1),  # its balance (deployed with 1000; nested passed its 10 on), plus one
        "type": "CALL",
    }
    assert "error" not in result and result["output"] == _word(0)


def test_call_tracer_on_a_deployment(chain: Chain) -> None:
    result = chain.trace("deploy", CallTracer())
    assert result["type"] == "CREATE" and result["to"] == "0x" + TRACING.hex() and result["value"] == hex(1000)
    (create,) = result["calls"]
    assert create["type"] == "CREATE" and create["to"] == "0x" + TARGET.hex() and create["from"] == result["to"]
    runtime_code = compile_contracts(["Tracing"])["Tracing"].deployed_bytecode
    assert result["output"] == "0x" + runtime_code.hex()


# -- prestateTracer ---------------------------------------------------------------------

def test_prestate_lists_what_the_transaction_touched(chain: Chain) -> None:
    state_before = chain.replay(chain.names.index("store"))
    pre = chain.trace("store", PrestateTracer())
    runtime_code = state_before.get_code(TRACING)
    mapping_slot = int.from_bytes(keccak(abi_encode(["uint256", "uint256"], [5, 1])), "big")
    assert pre["0x" + TRACING.hex()] == {
        "balance": hex(1000),
        "code": "0x" + runtime_code.hex(),
        "codeHash": "0x" + keccak(runtime_code).hex(),
        "nonce": 2,  # its own, and the TraceTarget it created
        "storage": {_word(0): _word(0), _word(mapping_slot): _word(0)},
    }
    assert pre["0x" + SENDER.hex()] == {"balance": hex(state_before.get_balance(SENDER)), "nonce": 1}
    assert set(pre) == {"0x" + a.hex() for a in (SENDER, TRACING, COINBASE)}


def test_prestate_diff_mode(chain: Chain) -> None:
    diff = chain.trace("store", PrestateTracer(PrestateTracerConfig(diff_mode=True)))
    mapping_slot = int.from_bytes(keccak(abi_encode(["uint256", "uint256"], [5, 1])), "big")
    contract = "0x" + TRACING.hex()
    assert diff["post"][contract] == {"storage": {_word(0): _word(1), _word(mapping_slot): _word(7)}}
    assert "storage" not in diff["pre"][contract]  # both slots were zero
    assert diff["pre"]["0x" + SENDER.hex()]["nonce"] == 1 and diff["post"]["0x" + SENDER.hex()]["nonce"] == 2
    assert set(diff["post"]) == {"0x" + a.hex() for a in (SENDER, TRACING, COINBASE)}

    nested = chain.trace("nested", PrestateTracer(PrestateTracerConfig(diff_mode=True)))
    made = "0x" + keccak(rlp.encode([TRACING, 2]))[12:].hex()
    assert made not in nested["pre"]  # it did not exist before
    assert nested["post"][made]["nonce"] == 1 and nested["post"][made]["code"].startswith("0x6080")
    assert nested["post"][made]["storage"] == {_word(0): _word(1)}
    assert "0x" + "00" * 19 + "02" not in nested["post"]  # the precompile called: touched, unchanged


def test_prestate_options(chain: Chain) -> None:
    pre = chain.trace("store", PrestateTracer(PrestateTracerConfig(disable_code=True, disable_storage=True)))
    assert set(pre["0x" + TRACING.hex()]) == {"balance", "codeHash", "nonce"}
    with_empty = chain.trace("nested", PrestateTracer(PrestateTracerConfig(include_empty=True)))
    assert with_empty["0x" + "00" * 19 + "02"] == {"balance": "0x0"}


def test_tracing_leaves_the_untraced_path_alone(chain: Chain) -> None:
    state = chain.replay(2)
    chain_class = type(state).computation_class
    tracer = CallTracer()
    trace_transaction(state, chain.txs[2].evm, tracer)
    assert state.computation_class is chain_class is evm.EvmComputation
    assert "computation_class" not in vars(state)


def test_create_onto_a_taken_address(chain: Chain) -> None:
    # nested(3) again: CREATE2 with salt 3 finds the account it made the first time.
    def run(tracer):
        trace_call(chain.call_state(), tracer, sender=SENDER, to=TRACING, data=calldata("nested(uint256)", 3),
                   value=0, gas=GAS, max_fee_per_gas=0, max_priority_fee_per_gas=0)
        return tracer.result()

    calls = run(CallTracer())["calls"]
    collided = calls[7]
    assert collided["type"] == "CREATE2" and collided["error"] == "contract address collision"
    assert collided["gasUsed"] == collided["gas"] and "to" not in collided  # all its gas burnt
    logs = run(StructLogger())["structLogs"]
    step = next(s for s in logs if s["op"] == "CREATE2")
    init_words = (len(bytes.fromhex(collided["input"][2:])) + 31) // 32
    assert step["gasCost"] == 32000 + 2 * init_words + 6 * init_words  # init code and hashing, not the frame
    following = logs[logs.index(step) + 1]
    assert following["depth"] == 1 and following["gas"] == step["gas"] - step["gasCost"] - int(collided["gas"], 16)


@pytest.mark.filterwarnings("ignore:SELFDESTRUCT opcode:DeprecationWarning")  # py-evm says it on every run
def test_selfdestruct_is_a_frame(chain: Chain) -> None:
    beneficiary = b"\x42" * 20
    tracer = CallTracer()
    trace_call(chain.call_state(), tracer, sender=SENDER, to=None, data=b"\x73" + beneficiary + b"\xff", value=5,
               gas=100_000, max_fee_per_gas=0, max_priority_fee_per_gas=0)
    top = tracer.result()
    assert top["type"] == "CREATE" and top["value"] == "0x5"
    assert top["calls"] == [{"from": top["to"], "gas": "0x0", "gasUsed": "0x0", "to": "0x" + beneficiary.hex(),
                             "input": "0x", "value": "0x5", "type": "SELFDESTRUCT"}]
