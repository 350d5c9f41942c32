"""The EVM: py-evm's newest fork (Prague) behind a small interface.

``open_state`` gives a state at a root for one block; ``execute`` applies one signed
transaction; ``call`` runs a message without a signature (eth_call, eth_estimateGas).
Native code joins at ``EvmComputation._precompiles`` (see DESIGN.md, "The seams in
py-evm"); code starting with ``\0asm`` runs as a WASM contract (vm/wasm/HOST_API.md).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB
from eth.exceptions import OutOfGas, Revert
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError

from vm.host import BlockContext
from vm.wasm.config import MAX_CODE_BYTES, MAX_INITCODE_BYTES
from vm.wasm.executor import is_wasm, run_wasm, validate_wasm_code

FORK = "prague"


JUMPDEST_CACHE_SIZE = 1024
# code -> (invalid, valid) positions found so far. py-evm redoes this analysis for every
# message; it depends on the code alone and the sets only ever grow, so runs share them.
_jumpdest_analysis: dict[bytes, tuple[set[int], set[int]]] = {}


def apply_message_prologue(computation: Any, parent_computation: Any) -> None:
    """What ``BaseComputation.apply_computation`` does before running code: the EIP-3860
    init-code charge and the list of contracts created in the transaction (EIP-6780)."""
    message = computation.msg
    if computation.is_origin_computation:
        computation.contracts_created = []
        if message.is_create:
            type(computation).consume_initcode_gas_cost(computation)
    if parent_computation is not None:
        computation.contracts_created = parent_computation.contracts_created
    if message.is_create:
        computation.contracts_created.append(message.storage_address)


class EvmComputation(PragueComputation):
    _precompiles = dict(PragueComputation._precompiles)

    def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
        super().__init__(state, message, transaction_context)
        code = message.code
        if code and not is_wasm(code):
            analysis = _jumpdest_analysis.get(code)
            if analysis is None:
                if len(_jumpdest_analysis) >= JUMPDEST_CACHE_SIZE:
                    del _jumpdest_analysis[next(iter(_jumpdest_analysis))]
                analysis = _jumpdest_analysis[code] = (set(), set())
            self.code.invalid_positions, self.code.valid_positions = analysis

    @classmethod
    def apply_computation(cls, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None) -> Any:
        # Code starting with \0asm runs on wasmtime (vm/wasm/HOST_API.md) instead of the
        # opcode loop; precompiles and pallets are checked first, as py-evm does, and the
        # prologue is BaseComputation.apply_computation's.
        if not is_wasm(message.code) or message.code_address in cls._precompiles:
            return super().apply_computation(state, message, transaction_context, parent_computation)
        with cls(state, message, transaction_context) as computation:
            apply_message_prologue(computation, parent_computation)
            run_wasm(computation)
        return computation

    @classmethod
    def validate_create_message(cls, message: Any) -> None:
        # WASM init code (module + constructor input) has its own limit instead of EIP-3860's.
        if is_wasm(message.code):
            if len(message.code) > MAX_INITCODE_BYTES:
                raise OutOfGas(f"WASM init code exceeds {MAX_INITCODE_BYTES} bytes: {len(message.code)}")
            return
        super().validate_create_message(message)

    @classmethod
    def validate_contract_code(cls, contract_code: bytes) -> None:
        # Any code stored as WASM, from WASM or EVM init code, must be a valid contract
        # module within MAX_CODE_BYTES (instead of EIP-170's 24 KiB).
        if is_wasm(contract_code):
            if len(contract_code) > MAX_CODE_BYTES:
                raise OutOfGas(f"WASM code exceeds {MAX_CODE_BYTES} bytes: {len(contract_code)}")
            validate_wasm_code(contract_code)
            return
        super().validate_contract_code(contract_code)


class EvmState(PragueState):
    computation_class = EvmComputation


def register_natives(handlers: Mapping[bytes, Callable[[Any], Any]]) -> None:
    """Run ``handlers[address](computation)`` for messages to these addresses, as precompiles.

    The runtime gives its pallets here (vm knows nothing of them); a handler gets py-evm's
    computation, sets ``output`` or raises ``eth.exceptions.Revert``, and the message's
    journal undoes its writes when it fails. Calling again replaces the previous set.
    """
    for address in handlers:
        if address in PragueComputation._precompiles:
            raise ValueError(f"0x{address.hex()} is an Ethereum precompile")
    EvmComputation._precompiles = {**PragueComputation._precompiles, **dict(sorted(handlers.items()))}


class ExecutionRejected(Exception):
    """The transaction cannot run in this state (nonce, balance, fee): not included."""


@dataclass(frozen=True, slots=True)
class Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    success: bool
    gas_used: int
    logs: tuple[Log, ...]
    output: bytes
    error: str | None
    contract_address: bytes | None


def compute_execution_context(block: BlockContext) -> ExecutionContext:
    """py-evm's view of ``block``: what COINBASE, TIMESTAMP, NUMBER, BASEFEE... read."""
    return ExecutionContext(
        coinbase=block.coinbase,
        timestamp=block.timestamp,
        block_number=block.number,
        difficulty=0,
        mix_hash=block.prev_randao,
        gas_limit=block.gas_limit,
        prev_hashes=block.prev_hashes,
        chain_id=block.chain_id,
        base_fee_per_gas=block.base_fee,
        excess_blob_gas=0,
    )


def open_state(db: BaseDB | AtomicDB, block: BlockContext, state_root: bytes) -> EvmState:
    atomic = db if isinstance(db, AtomicDB) else AtomicDB(db)
    return EvmState(atomic, compute_execution_context(block), state_root)


def _outcome(evm_tx: Any, computation: Any) -> Outcome:
    gas_used = PragueVM.finalize_gas_used(evm_tx, computation)
    logs = tuple(
        Log(bytes(address), tuple(topic.to_bytes(32, "big") for topic in topics), bytes(data))
        for address, topics, data in computation.get_log_entries()
    )
    error = None
    if computation.is_error:
        exc = computation.error
        error = "execution reverted" if isinstance(exc, Revert) else _vm_error_text(exc)
    created = None
    if evm_tx.to in (b"", None) and not computation.is_error:
        created = bytes(computation.msg.storage_address)
    return Outcome(
        success=not computation.is_error,
        gas_used=gas_used,
        logs=logs,
        output=bytes(computation.output),
        error=error,
        contract_address=created,
    )


def _vm_error_text(exc: BaseException) -> str:
    # geth's words for the common VM failures, so clients print what they know.
    name = type(exc).__name__
    return {
        "OutOfGas": "out of gas",
        "InsufficientFunds": "insufficient balance for transfer",
        "StackDepthLimit": "max call depth exceeded",
        "InvalidInstruction": "invalid opcode",
        "InvalidJumpDestination": "invalid jump destination",
        "StackUnderflow": "stack underflow",
        "StackOverflow": "stack limit reached",
        "WriteProtection": "write protection",
        "ContractCreationCollision": "contract address collision",
        "OutOfBoundsRead": "return data out of bounds",
    }.get(name, str(exc) or name)


def execute(state: EvmState, evm_tx: Any) -> Outcome:
    """Apply one signed transaction to ``state``.

    Raises:
        ExecutionRejected: the transaction is not valid in this state; nothing changed.
    """
    state.lock_changes()
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(evm_tx)
    except ValidationError as exc:
        state.revert(snapshot)
        raise ExecutionRejected(str(exc)) from None
    state.commit(snapshot)
    return _outcome(evm_tx, computation)


def call(
    state: EvmState,
    *,
    sender: bytes,
    to: bytes | None,
    data: bytes,
    value: int,
    gas: int,
    max_fee_per_gas: int,
    max_priority_fee_per_gas: int,
    access_list: tuple = (),
) -> Outcome:
    """Run a message from ``sender`` without a signature; the caller discards the state.

    Raises:
        ExecutionRejected: the sender cannot pay for it.
    """
    unsigned = PragueTransactionBuilder.new_unsigned_dynamic_fee_transaction(
        chain_id=state.execution_context.chain_id,
        nonce=state.get_nonce(sender),
        max_priority_fee_per_gas=max_priority_fee_per_gas,
        max_fee_per_gas=max_fee_per_gas,
        gas=gas,
        to=to or b"",
        value=value,
        data=data,
        access_list=access_list,
    )
    spoofed = SpoofTransaction(unsigned, sender=sender, type_id=2, hash=b"\x00" * 32, r=1, s=1, y_parity=0, v=0)
    state.lock_changes()
    try:
        computation = state.apply_transaction(spoofed)
    except ValidationError as exc:
        raise ExecutionRejected(str(exc)) from None
    return _outcome(spoofed, computation)
