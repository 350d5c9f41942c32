"""geth's ``callTracer``: the tree of message calls and creations of a transaction.

Each frame is ``{from, gas, gasUsed, to, input, output?, error?, revertReason?, calls?,
logs?, value?, type}`` (quantities in hex). The top frame's ``gas`` is the transaction's
gas limit and its ``gasUsed`` the receipt's; a nested frame shows the gas handed to it and
what it used. ``onlyTopCall`` keeps the top frame alone; ``withLog`` adds each frame's
logs with their index in the block and ``position`` (how many calls the frame had made
when it logged), dropping the logs of frames that failed, and of their children.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vm.trace.hooks import Frame, FrameResult, Tracer, TxInfo

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
# accounts/abi's panicReasons, the words geth's revertReason uses.
PANIC_REASONS = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


@dataclass(frozen=True, slots=True)
class CallTracerConfig:
    only_top_call: bool = False
    with_log: bool = False


class _Call:
    __slots__ = ("frame", "gas", "gas_used", "to", "output", "error", "revert_reason", "calls", "logs")

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.gas = frame.gas
        self.gas_used = 0
        self.to = frame.to
        self.output = b""
        self.error: str | None = None
        self.revert_reason: str | None = None
        self.calls: list[_Call] = []
        self.logs: list[dict[str, Any]] = []

    def finish(self, result: FrameResult) -> None:
        self.gas_used = result.gas_used
        if result.error is None:
            self.output = result.output
            return
        self.error = result.error
        if self.frame.kind in ("CREATE", "CREATE2"):
            self.to = None
        if result.error != "execution reverted" or not result.output:
            return
        self.output = result.output
        self.revert_reason = unpack_revert(result.output)

    def clear_failed_logs(self, parent_failed: bool = False) -> None:
        failed = parent_failed or self.error is not None
        if failed:
            self.logs = []
        for call in self.calls:
            call.clear_failed_logs(failed)

    def to_json(self) -> dict[str, Any]:
        frame = self.frame
        out: dict[str, Any] = {
            "from": "0x" + frame.sender.hex(),
            "gas": hex(self.gas),
            "gasUsed": hex(self.gas_used),
        }
        if self.to is not None:
            out["to"] = "0x" + self.to.hex()
        out["input"] = "0x" + frame.input.hex()
        if self.output:
            out["output"] = "0x" + self.output.hex()
        if self.error is not None:
            out["error"] = self.error
        if self.revert_reason:
            out["revertReason"] = self.revert_reason
        if self.calls:
            out["calls"] = [call.to_json() for call in self.calls]
        if self.logs:
            out["logs"] = self.logs
        if frame.value is not None:
            out["value"] = hex(frame.value)
        out["type"] = frame.kind
        return out


class CallTracer(Tracer):
    def __init__(self, config: CallTracerConfig = CallTracerConfig()) -> None:
        self.config = config
        self._stack: list[_Call] = []
        self._root: _Call | None = None
        self._tx: TxInfo | None = None
        self._depth = 0
        # Logs alive now (a failed frame takes its own back), and per open frame how many.
        self._live_logs = 0
        self._frame_logs: list[int] = []

    def start(self, state: Any, tx: TxInfo) -> None:
        self._tx = tx

    def enter(self, frame: Frame) -> None:
        self._depth = frame.depth
        self._frame_logs.append(0)
        if self.config.only_top_call and frame.depth > 0:
            return
        call = _Call(frame)
        if frame.depth == 0:
            call.gas = self._tx.gas
            self._root = call
        self._stack.append(call)

    def exit(self, frame: Frame, result: FrameResult) -> None:
        logs = self._frame_logs.pop()
        if result.error is not None:
            self._live_logs -= logs
        elif self._frame_logs:
            self._frame_logs[-1] += logs
        self._depth = frame.depth - 1
        if self.config.only_top_call and frame.depth > 0:
            return
        call = self._stack.pop()
        call.finish(result)
        if self._stack:
            self._stack[-1].calls.append(call)

    def log(self, address: bytes, topics: tuple[int, ...], data: bytes) -> None:
        index = self._tx.log_index + self._live_logs
        self._live_logs += 1
        self._frame_logs[-1] += 1
        if not self.config.with_log or (self.config.only_top_call and self._depth > 0):
            return
        call = self._stack[-1]
        call.logs.append({
            "address": "0x" + address.hex(),
            "topics": ["0x" + topic.to_bytes(32, "big").hex() for topic in topics],
            "data": "0x" + data.hex(),
            "index": hex(index),
            "position": hex(len(call.calls)),
        })

    def end(self, state: Any, outcome: Any) -> None:
        root = self._root
        if root is None:  # refused before any frame ran (an address collision on create)
            tx = self._tx
            root = self._root = _Call(Frame("CREATE" if tx.is_create else "CALL", tx.sender, tx.to, tx.data, tx.gas, tx.value, 0))
            root.finish(FrameResult(outcome.output, outcome.gas_used, outcome.error))
        root.gas_used = outcome.gas_used
        if self.config.with_log:
            root.clear_failed_logs()

    def result(self) -> dict[str, Any]:
        return self._root.to_json()


def unpack_revert(output: bytes) -> str | None:
    """The reason in Error(string) or Panic(uint256) revert data, worded as geth's abi.UnpackRevert."""
    if len(output) < 4:
        return None
    body = output[4:]
    if output[:4] == ERROR_SELECTOR:
        try:
            offset = int.from_bytes(body[:32], "big")
            length = int.from_bytes(body[offset:offset + 32], "big")
            if offset + 32 + length > len(body) or len(body) < 64:
                return None
            return body[offset + 32:offset + 32 + length].decode("utf-8", errors="replace")
        except (ValueError, OverflowError):
            return None
    if output[:4] == PANIC_SELECTOR and len(body) >= 32:
        code = int.from_bytes(body[:32], "big")
        return PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")
    return None
