"""geth's default tracer: one structured log per opcode executed.

``{gas, failed, returnValue, structLogs: [{pc, op, gas, gasCost, depth, error?, stack?,
returnData?, memory?, storage?, refund?}]}`` with geth's conventions: numbers in
decimal, stack items as minimal hex, memory as 32-byte words and storage as 32-byte
hex, all ``0x``-prefixed; each entry shows the frame before its opcode ran, ``storage``
only on SLOAD and SSTORE (every slot of the contract seen so far in the transaction).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vm.trace.hooks import PRE_EXECUTION_ERRORS, Tracer, current_refund, describe_error, stack_int
from vm.trace.opcodes import OP_NAMES, SLOAD, SSTORE


@dataclass(frozen=True, slots=True)
class StructLoggerConfig:
    disable_stack: bool = False
    disable_storage: bool = False
    enable_memory: bool = False
    enable_return_data: bool = False
    limit: int = 0  # stop logging once the logs take this many bytes of JSON (0: no limit)


class StructLogger(Tracer):
    opcodes = frozenset(range(256))

    def __init__(self, config: StructLoggerConfig = StructLoggerConfig()) -> None:
        self.config = config
        self.logs: list[dict[str, Any]] = []
        self._size = 0
        self._storage: dict[bytes, dict[int, int]] = {}
        self._outcome: Any = None

    def before_opcode(self, computation: Any, pc: int, op: int, gas: int, depth: int) -> Any:
        config = self.config
        if config.limit and self._size > config.limit:
            return None
        stack = computation._stack.values
        storage = None
        if not config.disable_storage and (op == SLOAD or op == SSTORE):
            storage = self._storage_seen(computation, op, stack)
        memory = None
        if config.enable_memory:
            raw = bytes(computation._memory._bytes)
            memory = ["0x" + raw[i:i + 32].ljust(32, b"\0").hex() for i in range(0, len(raw), 32)]
        return_data = None
        if config.enable_return_data and computation.return_data:
            return_data = "0x" + bytes(computation.return_data).hex()
        # Its place now: a CALL's entry comes before the callee's, its cost after them.
        self.logs.append({})
        return (
            len(self.logs) - 1, pc, op, gas, depth,
            None if config.disable_stack else [hex(stack_int(v)) for v in stack],
            return_data, memory, storage, current_refund(computation),
        )

    def _storage_seen(self, computation: Any, op: int, stack: list) -> dict[str, str] | None:
        address = bytes(computation.msg.storage_address)
        seen = self._storage.setdefault(address, {})
        if op == SLOAD and len(stack) >= 1:
            slot = stack_int(stack[-1])
            seen[slot] = computation.state.get_storage(address, slot)
        elif op == SSTORE and len(stack) >= 2:
            seen[stack_int(stack[-1])] = stack_int(stack[-2])
        else:
            return None
        return {_word(slot): _word(value) for slot, value in sorted(seen.items())}

    def after_opcode(self, computation: Any, token: Any, cost: int, error: Any) -> None:
        if token is None:
            return
        index, pc, op, gas, depth, stack, return_data, memory, storage, refund = token
        entry: dict[str, Any] = {"pc": pc, "op": OP_NAMES[op], "gas": gas, "gasCost": cost, "depth": depth}
        if isinstance(error, PRE_EXECUTION_ERRORS):
            entry["error"] = describe_error(error, computation._fault)
        if stack is not None:
            entry["stack"] = stack
        if return_data is not None:
            entry["returnData"] = return_data
        if memory:
            entry["memory"] = memory
        if storage:
            entry["storage"] = storage
        if refund:
            entry["refund"] = refund
        self.logs[index] = entry
        if self.config.limit:
            self._size += len(json.dumps(entry, separators=(",", ":")))

    def end(self, state: Any, outcome: Any) -> None:
        self._outcome = outcome

    def result(self) -> dict[str, Any]:
        outcome = self._outcome
        # The output when it succeeded or reverted; nothing when it failed otherwise.
        output = outcome.output if outcome.success or outcome.error == "execution reverted" else b""
        return {
            "gas": outcome.gas_used,
            "failed": not outcome.success,
            "returnValue": "0x" + output.hex(),
            "structLogs": self.logs,
        }


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()
