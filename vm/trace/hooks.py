"""Watching py-evm run: a computation class that reports frames, opcodes and logs.

py-evm offers no tracing hooks, so a traced transaction runs with its own computation
class. ``TracingComputation`` subclasses ``EvmComputation`` (so precompiles, pallets and
the jump-destination cache are the same) and overrides four seams:

- ``apply_message`` / ``apply_create_message`` (class methods): every message call and
  creation, the transaction's own included, enters and exits through them, so a tracer
  sees each frame with the gas it got and what it used, returned and failed with;
- ``apply_computation``: the opcode loop of ``BaseComputation``, copied, reporting the
  opcodes a tracer asks for (pc, gas before, the gas the opcode cost, the error);
- ``add_log_entry``: logs, as emitted, for the call tracer's ``withLog``.

``trace.make_computation_class`` binds one tracer into a fresh subclass, and the traced
transaction runs with ``state.computation_class`` set to it on that one state object, so
the class every other execution uses is untouched: tracing costs the untraced path nothing.

Gas as geth reports it: an opcode's cost is the gas it took before any child frame ran.
For the CALL family that includes the gas handed to the callee (without the 2300
stipend), for CREATE and CREATE2 it does not (geth charges that inside the opcode, after
the step is logged). A CALL or CREATE refused before entering the callee (depth, balance)
or a CREATE onto an existing address is reported as a frame that failed with geth's
words, and a SELFDESTRUCT as a frame sending the balance, as geth does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth.exceptions import (
    ContractCreationCollision,
    FullStack,
    Halt,
    InsufficientFunds,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfBoundsRead,
    OutOfGas,
    ReservedBytesInCode,
    Revert,
    StackDepthLimit,
    VMError,
    WriteProtection,
)
from eth.vm.computation import NO_RESULT
from eth.vm.gas_meter import GasMeter
from eth.vm.logic.invalid import InvalidOpcode

from vm.evm import EvmComputation, apply_message_prologue
from vm.trace.opcodes import CALL, CALL_OPS, CALLCODE, CREATE_OPS, DELEGATECALL, OP_NAMES, STACK_INPUTS
from vm.wasm.executor import is_wasm, run_wasm

MAX_CALL_DEPTH = 1024
SELFDESTRUCT = 0xFF
UINT64_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class TxInfo:
    """The transaction about to run, as a tracer sees it before anything is charged."""

    sender: bytes
    to: bytes  # the account called, or the one being created
    is_create: bool
    value: int
    data: bytes
    gas: int  # the transaction's gas limit
    coinbase: bytes
    log_index: int  # logs emitted earlier in the same block


@dataclass(slots=True)
class Frame:
    """One message call or creation: ``kind`` is geth's name of the opcode (CALL, CREATE2, ...)."""

    kind: str
    sender: bytes
    to: bytes | None
    input: bytes
    gas: int
    value: int | None  # None for STATICCALL, which carries none
    depth: int  # 0: the transaction's own frame


@dataclass(frozen=True, slots=True)
class FrameResult:
    output: bytes
    gas_used: int
    error: str | None  # geth's words: "execution reverted", "out of gas", ...


class Tracer:
    """What a tracer may observe. Every hook is optional; ``opcodes`` names the opcodes
    whose steps it wants (``before_opcode`` then ``after_opcode``)."""

    opcodes: frozenset[int] = frozenset()

    def start(self, state: Any, tx: TxInfo) -> None:
        """Before the transaction is charged anything (its sender's nonce and balance as they were)."""

    def enter(self, frame: Frame) -> None:
        """A frame starts."""

    def exit(self, frame: Frame, result: FrameResult) -> None:
        """The frame ``enter`` announced last ends."""

    def before_opcode(self, computation: Any, pc: int, op: int, gas: int, depth: int) -> Any:
        """An opcode is about to run; what this returns comes back to ``after_opcode``."""

    def after_opcode(self, computation: Any, token: Any, cost: int, error: VMError | None) -> None:
        """The opcode ran, took ``cost`` gas, and raised ``error`` (None: it did not)."""

    def log(self, address: bytes, topics: tuple[int, ...], data: bytes) -> None:
        """A LOG opcode emitted a log in the current frame."""

    def end(self, state: Any, outcome: Any) -> None:
        """The transaction is done (``vm.evm.Outcome``) and ``state`` holds its effects."""

    def result(self) -> Any:
        """The trace as geth's JSON."""


def stack_int(value: int | bytes) -> int:
    """py-evm keeps stack items as ints or big-endian bytes, whichever came last."""
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def current_refund(computation: Any) -> int:
    """geth's refund counter now: what the frames still running and their finished
    (successful) children have refunded so far."""
    return sum(c._gas_meter.gas_refunded + c._refund_done for c in type(computation)._active)


def describe_error(exc: BaseException, fault: tuple[int, int] | None = None) -> str:
    """geth's text for a VM error; ``fault`` is (opcode, stack height) where it was raised."""
    if isinstance(exc, Revert):
        return "execution reverted"
    if isinstance(exc, OutOfGas):
        # py-evm raises OutOfGas for what geth names apart; its messages tell which.
        text = str(exc)
        if "Write contract code" in text:
            return "contract creation code storage out of gas"
        if "EIP170" in text:
            return "max code size exceeded"
        if "EIP-3860" in text:
            return "max initcode size exceeded"
        return "out of gas"
    if isinstance(exc, InsufficientStack):
        if fault is None:
            return "stack underflow"
        op, height = fault
        return f"stack underflow ({height} <=> {STACK_INPUTS[op]})"
    if isinstance(exc, FullStack):
        return f"stack limit reached {MAX_CALL_DEPTH} ({MAX_CALL_DEPTH - 1})"
    if isinstance(exc, InvalidInstruction):
        return f"invalid opcode: {OP_NAMES[fault[0]]}" if fault is not None else "invalid opcode"
    for kind, text in (
        (InvalidJumpDestination, "invalid jump destination"),
        (WriteProtection, "write protection"),
        (OutOfBoundsRead, "return data out of bounds"),
        (ContractCreationCollision, "contract address collision"),
        (StackDepthLimit, "max call depth exceeded"),
        (InsufficientFunds, "insufficient balance for transfer"),
        (ReservedBytesInCode, "invalid code: must not begin with 0xef"),
    ):
        if isinstance(exc, kind):
            return text
    return str(exc) or type(exc).__name__


# Errors geth finds before an opcode runs (its gas and stack checks): the struct logger
# shows them on the step. Others (REVERT, a bad jump, ...) end the frame after the step.
PRE_EXECUTION_ERRORS = (OutOfGas, InsufficientStack, FullStack)


class _TracingGasMeter(GasMeter):
    """Remembers the charge that ran out of gas (geth reports it as the step's cost) and the
    last one (the gas a CREATE handed to a frame that never ran, on an address collision)."""

    failed_charge: int | None = None
    last_charge = 0

    def consume_gas(self, amount: int, reason: str) -> None:
        if amount > self.gas_remaining:
            self.failed_charge = amount
        self.last_charge = amount
        super().consume_gas(amount, reason)


class TracingComputation(EvmComputation):
    tracer: ClassVar[Tracer]
    _watched: ClassVar[frozenset[int]]
    _active: ClassVar[list]  # computations running, outermost first

    def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
        super().__init__(state, message, transaction_context)
        self._op: int | None = None  # the CALL/CREATE opcode running, while it runs
        self._gas_mark: int | None = None  # gas left when the child started (or gas came back)
        self._child_gas = 0
        self._child_started = False
        self._returned: int | None = None
        self._refund_done = 0
        self._fault: tuple[int, int] | None = None

    def _configure_gas_meter(self) -> GasMeter:
        meter = super()._configure_gas_meter()
        return _TracingGasMeter(meter.start_gas, meter.refund_strategy)

    # -- frames -----------------------------------------------------------------------

    @classmethod
    def apply_message(cls, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None) -> Any:
        if message.is_create:  # apply_create_message runs creations through here and reports them
            return super().apply_message(state, message, transaction_context, parent_computation)
        return cls._run_frame(super().apply_message, state, message, transaction_context, parent_computation)

    @classmethod
    def apply_create_message(cls, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None) -> Any:
        # Init code over the size limit fails the CREATE itself, before any frame (as in geth).
        cls.validate_create_message(message)
        return cls._run_frame(super().apply_create_message, state, message, transaction_context, parent_computation)

    @classmethod
    def _run_frame(cls, apply: Any, state: Any, message: Any, transaction_context: Any, parent: Any) -> Any:
        tracer = cls.tracer
        frame = _frame_of(message, parent)
        if parent is not None:
            if parent._gas_mark is None:
                parent._gas_mark = parent._gas_meter.gas_remaining
            parent._child_gas = message.gas
            parent._child_started = True
        tracer.enter(frame)
        computation = apply(state, message, transaction_context, parent_computation=parent)
        tracer.exit(frame, _result_of(computation))
        if parent is not None and computation.is_success:
            parent._refund_done += computation.get_gas_refund()
        return computation

    def return_gas(self, amount: int) -> None:
        if self._gas_mark is None:
            self._gas_mark = self._gas_meter.gas_remaining
        self._returned = amount
        super().return_gas(amount)

    def add_log_entry(self, account: Any, topics: Any, data: bytes) -> None:
        super().add_log_entry(account, topics, data)
        self.tracer.log(bytes(account), tuple(topics), bytes(data))

    # -- opcodes ----------------------------------------------------------------------

    @classmethod
    def apply_computation(cls, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None) -> Any:
        # BaseComputation.apply_computation, with the loop in _run_code.
        with cls(state, message, transaction_context) as computation:
            apply_message_prologue(computation, parent_computation)
            precompile = computation.precompiles.get(message.code_address, NO_RESULT)
            if precompile is not NO_RESULT:
                if not message.is_delegation:
                    precompile(computation)
                return computation
            cls._active.append(computation)
            try:
                if is_wasm(message.code):
                    run_wasm(computation)  # its host calls into other frames are traced; its own steps are not
                else:
                    cls._run_code(computation)
            finally:
                cls._active.pop()
        return computation

    @classmethod
    def _run_code(cls, computation: Any) -> None:
        tracer = cls.tracer
        wanted = tracer.opcodes
        watched = cls._watched
        lookup = computation.opcodes
        code = computation.code
        meter = computation._gas_meter
        stack = computation._stack.values
        depth = computation.msg.depth + 1
        raw = code._raw_code_bytes
        if not raw:
            return  # geth runs no step at all for an account without code
        while True:
            # CodeStream.__iter__, inlined so that the STOP past the end has its own pc.
            pc = code.program_counter
            if pc < len(raw):
                opcode = raw[pc]
                code.program_counter = pc + 1
            else:
                opcode = 0
            try:
                opcode_fn = lookup[opcode]
            except KeyError:
                opcode_fn = InvalidOpcode(opcode)
            height = len(stack)
            if opcode not in watched:
                try:
                    opcode_fn(computation=computation)
                except Halt:
                    break
                except VMError:
                    computation._fault = (opcode, height)
                    raise
                continue

            gas = meter.gas_remaining
            meter.failed_charge = None
            computation._op = opcode
            computation._gas_mark = None
            computation._child_started = False
            computation._returned = None
            token = tracer.before_opcode(computation, pc, opcode, gas, depth) if opcode in wanted else None
            operands = stack[-7:] if opcode in CALL_OPS or opcode in CREATE_OPS else None
            if opcode == SELFDESTRUCT:
                operands = [computation.state.get_balance(computation.msg.storage_address), *stack[-1:]]
            try:
                opcode_fn(computation=computation)
            except Halt:
                computation._op = None
                if opcode in wanted:
                    tracer.after_opcode(computation, token, _step_cost(computation, opcode, gas, None), None)
                if opcode == SELFDESTRUCT:
                    _report_selfdestruct(computation, *operands)
                break
            except VMError as exc:
                computation._op = None
                computation._fault = (opcode, height)
                if opcode in wanted:
                    tracer.after_opcode(computation, token, _step_cost(computation, opcode, gas, exc), exc)
                raise
            computation._op = None
            burnt = 0
            if operands is not None and not computation._child_started:
                burnt = _report_refused_frame(computation, opcode, operands)
            if opcode in wanted:
                tracer.after_opcode(computation, token, _step_cost(computation, opcode, gas, None) - burnt, None)


def make_computation_class(tracer: Tracer) -> type[TracingComputation]:
    """A computation class that reports to ``tracer`` (one per traced transaction)."""
    watched = frozenset(tracer.opcodes) | CALL_OPS | CREATE_OPS | {SELFDESTRUCT}
    return type("TracedComputation", (TracingComputation,), {"tracer": tracer, "_watched": watched, "_active": []})


def _step_cost(computation: Any, opcode: int, gas: int, error: VMError | None) -> int:
    meter = computation._gas_meter
    if isinstance(error, OutOfGas) and meter.failed_charge is not None:
        return gas - meter.gas_remaining + meter.failed_charge
    mark = computation._gas_mark
    if mark is None:
        return gas - meter.gas_remaining
    if opcode in CREATE_OPS:
        return gas - mark - computation._child_gas
    return gas - mark


def _frame_of(message: Any, parent: Any) -> Frame:
    if parent is None:
        kind = "CREATE" if message.is_create else "CALL"
        sender = bytes(message.sender)
    else:
        op = parent._op
        if op in CALL_OPS or op in CREATE_OPS:
            kind = OP_NAMES[op]
        else:  # a child made outside the CALL/CREATE opcodes (a pallet, say)
            kind = "CREATE" if message.is_create else "CALL"
        sender = bytes(parent.msg.storage_address)
    to = message.code_address if kind in ("CALLCODE", "DELEGATECALL") else message.storage_address
    data = message.code if message.is_create else message.data
    value = None if kind == "STATICCALL" else message.value
    return Frame(kind, sender, bytes(to), bytes(data), message.gas, value, message.depth)


def _result_of(computation: Any) -> FrameResult:
    error = None
    if computation.is_error:
        error = describe_error(computation.error, computation._fault)
    return FrameResult(bytes(computation.output), computation.get_gas_used(), error)


def _report_refused_frame(computation: Any, opcode: int, operands: list) -> int:
    """A CALL or CREATE that py-evm refused without a child computation: geth enters and
    leaves a frame for it with the reason. Returns the gas the frame took for good (a
    CREATE onto an existing account burns what it handed over), not part of the step."""
    msg = computation.msg
    sender = bytes(msg.storage_address)
    too_deep = msg.depth + 1 > MAX_CALL_DEPTH
    items = [stack_int(v) for v in reversed(operands)]  # top of the stack first
    burnt = 0
    if opcode in CALL_OPS:
        gas = computation._returned
        if gas is None:
            return 0
        target = items[1].to_bytes(32, "big")[12:]
        if opcode in (CALL, CALLCODE):
            value, offset, size = items[2], items[3], items[4]
        else:
            value, offset, size = (msg.value if opcode == DELEGATECALL else None), items[2], items[3]
        error = "max call depth exceeded" if too_deep else "insufficient balance for transfer"
    else:
        value, offset, size = items[0], items[1], items[2]
        remaining = computation._gas_meter.gas_remaining
        gas = remaining - remaining // 64
        if too_deep:
            error = "max call depth exceeded"
        elif computation.state.get_balance(msg.storage_address) < value:
            error = "insufficient balance for transfer"
        elif computation.state.get_nonce(msg.storage_address) >= UINT64_MAX:
            error = "nonce uint64 overflow"
        else:  # the checks passed, so the new address was taken: py-evm burnt the frame's gas
            error = "contract address collision"
            gas = burnt = computation._gas_meter.last_charge
        target = None  # a failed creation shows no address
    data = computation.memory_read_bytes(offset, size) if size else b""
    frame = Frame(OP_NAMES[opcode], sender, target, bytes(data), gas, value, msg.depth + 1)
    tracer = computation.tracer
    tracer.enter(frame)
    tracer.exit(frame, FrameResult(b"", burnt, error))
    return burnt


def _report_selfdestruct(computation: Any, balance: int, beneficiary: int | bytes) -> None:
    """geth reports a SELFDESTRUCT as a frame of its own: the balance it sends, no gas."""
    msg = computation.msg
    target = stack_int(beneficiary).to_bytes(32, "big")[12:]
    frame = Frame("SELFDESTRUCT", bytes(msg.storage_address), target, b"", 0, balance, msg.depth + 1)
    tracer = computation.tracer
    tracer.enter(frame)
    tracer.exit(frame, FrameResult(b"", 0, None))
