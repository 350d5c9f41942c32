"""The pallet framework: a pallet declared once in Python, reached through one Solidity ABI.

A pallet is a subclass of :class:`Pallet` with a name, an address, a storage schema
(:class:`StorageValue`, :class:`StorageMap`, :class:`StorageList`), events, errors and
calls (methods marked with :func:`call`, each with ABI types and a gas weight). From that
declaration come the ABI JSON (:func:`compute_abi`) and a Solidity interface
(:func:`compute_solidity_interface`), and the native handler the EVM runs when a message
reaches the pallet's address (:meth:`Pallet.handle`): it decodes the calldata, charges
the weight as gas, runs the call, and returns ABI-encoded results, or reverts with an
ABI custom error. py-evm's journal undoes every write of a reverted call, the value
sent included.

Pallet storage lives in the state trie as storage slots of the pallet's address:
``keccak256(b"chameleon.pallet/" + pallet + b"/" + field + abi.encode(key))`` (+ offset for
a struct's fields or a list's items), so it is under the one state root.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eth.exceptions import Revert, WriteProtection
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

# The code a pallet account holds, so EXTCODESIZE > 0 (Solidity checks it before a call
# that returns nothing). It never runs: the pallet's handler answers first. PUSH0 PUSH0 REVERT.
PALLET_CODE = b"\x5f\x5f\xfd"


# ---- ABI declarations ----

@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: str
    indexed: bool = False

    def abi(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "internalType": self.type}


def _signature(name: str, args: Sequence[Arg]) -> str:
    return f"{name}({','.join(a.type for a in args)})"


class DispatchError(Exception):
    """A call failed: reverts with an ABI custom error ``spec(values...)``."""

    def __init__(self, spec: ErrorSpec, values: tuple[Any, ...]) -> None:
        super().__init__(f"{spec.name}{values}")
        self.spec = spec
        self.values = values

    def encode(self) -> bytes:
        return self.spec.selector + abi_encode([a.type for a in self.spec.args], list(self.values))


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """``error Name(args)``; calling it makes the :class:`DispatchError` to raise."""
    name: str
    args: tuple[Arg, ...] = ()
    doc: str = ""

    @property
    def signature(self) -> str:
        return _signature(self.name, self.args)

    @property
    def selector(self) -> bytes:
        return function_signature_to_4byte_selector(self.signature)

    def __call__(self, *values: Any) -> DispatchError:
        return DispatchError(self, values)

    def abi(self) -> dict[str, Any]:
        return {"type": "error", "name": self.name, "inputs": [a.abi() for a in self.args]}


@dataclass(frozen=True, slots=True)
class EventSpec:
    """``event Name(args)``: topic 0 is keccak of the signature, indexed args follow."""
    name: str
    args: tuple[Arg, ...]
    doc: str = ""

    @property
    def signature(self) -> str:
        return _signature(self.name, self.args)

    @property
    def topic(self) -> bytes:
        return keccak(text=self.signature)

    def compute_log(self, values: dict[str, Any]) -> tuple[list[int], bytes]:
        topics = [int.from_bytes(self.topic, "big")]
        data_args = []
        for arg in self.args:
            if arg.indexed:
                topics.append(int.from_bytes(abi_encode([arg.type], [values[arg.name]]), "big"))
            else:
                data_args.append(arg)
        data = abi_encode([a.type for a in data_args], [values[a.name] for a in data_args])
        return topics, data

    def abi(self) -> dict[str, Any]:
        return {"type": "event", "name": self.name, "anonymous": False,
                "inputs": [{**a.abi(), "indexed": a.indexed} for a in self.args]}


@dataclass(frozen=True, slots=True)
class CallSpec:
    name: str
    inputs: tuple[Arg, ...]
    outputs: tuple[Arg, ...]
    weight: int
    payable: bool
    view: bool
    method: str
    doc: str = ""

    @property
    def signature(self) -> str:
        return _signature(self.name, self.inputs)

    @property
    def selector(self) -> bytes:
        return function_signature_to_4byte_selector(self.signature)

    @property
    def mutability(self) -> str:
        return "view" if self.view else "payable" if self.payable else "nonpayable"

    def abi(self) -> dict[str, Any]:
        return {"type": "function", "name": self.name, "stateMutability": self.mutability,
                "inputs": [a.abi() for a in self.inputs], "outputs": [a.abi() for a in self.outputs]}


def _args(spec: Sequence[tuple[str, str]] | str) -> tuple[Arg, ...]:
    if isinstance(spec, str):  # "address beneficiary, uint64 start"
        parts = [p.split() for p in spec.split(",") if p.strip()]
        return tuple(Arg(p[-1], p[0], indexed="indexed" in p) for p in parts)
    return tuple(Arg(name, type_) for name, type_ in spec)


def call(signature: str, *, returns: str = "", weight: int, payable: bool = False, view: bool = False) -> Callable:
    """Mark a pallet method as a call: ``@call("release(uint256 id)", returns="uint256 amount", weight=...)``.

    The method gets ``(ctx, *decoded_args)`` and returns a tuple of outputs (or one value,
    or None when there are none).
    """
    name, _, rest = signature.partition("(")

    def mark(fn: Callable) -> Callable:
        fn.__pallet_call__ = CallSpec(name, _args(rest.rstrip(")")), _args(returns), weight, payable, view,
                                      fn.__name__, (fn.__doc__ or "").strip().split("\n")[0])
        return fn
    return mark


def event(declaration: str, doc: str = "") -> EventSpec:
    name, _, rest = declaration.partition("(")
    return EventSpec(name, _args(rest.rstrip(")")), doc)


def error(declaration: str, doc: str = "") -> ErrorSpec:
    name, _, rest = declaration.partition("(")
    return ErrorSpec(name, _args(rest.rstrip(")")), doc)


# ---- storage ----

def _slot(pallet: str, field_name: str, key_types: Sequence[str], keys: Sequence[Any]) -> int:
    data = b"chameleon.pallet/" + pallet.encode() + b"/" + field_name.encode()
    if key_types:
        data += abi_encode(list(key_types), list(keys))
    return int.from_bytes(keccak(data), "big")


def _to_word(type_: str, value: Any) -> int:
    if type_ == "address":
        return int.from_bytes(value if isinstance(value, bytes) else bytes.fromhex(value[2:]), "big")
    if type_ == "bool":
        return int(bool(value))
    return int(value)


def _from_word(type_: str, word: int) -> Any:
    if type_ == "address":
        return to_checksum_address(word.to_bytes(20, "big"))
    if type_ == "bool":
        return bool(word)
    return word


@dataclass(frozen=True, slots=True)
class StorageValue:
    """One word: ``type`` is an ABI value type (uint*, address, bool)."""
    type: str
    keys: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class StorageMap:
    """keys -> a struct of ABI value-typed fields, one slot per field from the key's slot."""
    keys: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    name: str = ""


@dataclass(frozen=True, slots=True)
class StorageList:
    """keys -> a bounded list of one ABI value type: length at the key's slot, items after it."""
    keys: tuple[str, ...]
    item: str
    max_len: int
    name: str = ""


class Storage:
    """A pallet's storage seen through a py-evm state; reads and writes are journaled by it."""

    def __init__(self, pallet: type[Pallet], state: Any) -> None:
        self._pallet = pallet
        self._state = state
        self._address = pallet.address

    def _get(self, slot: int) -> int:
        return self._state.get_storage(self._address, slot)

    def _set(self, slot: int, value: int) -> None:
        self._state.set_storage(self._address, slot, value)

    def _decl(self, name: str) -> Any:
        return self._pallet.storage_schema[name]

    def get_value(self, name: str, *keys: Any) -> Any:
        decl = self._decl(name)
        return _from_word(decl.type, self._get(_slot(self._pallet.name, name, decl.keys, keys)))

    def set_value(self, name: str, value: Any, *keys: Any) -> None:
        decl = self._decl(name)
        self._set(_slot(self._pallet.name, name, decl.keys, keys), _to_word(decl.type, value))

    def get_struct(self, name: str, *keys: Any) -> dict[str, Any]:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        return {f: _from_word(t, self._get(base + i)) for i, (f, t) in enumerate(decl.fields)}

    def set_struct(self, name: str, values: dict[str, Any], *keys: Any) -> None:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        for i, (f, t) in enumerate(decl.fields):
            if f in values:
                self._set(base + i, _to_word(t, values[f]))

    def get_list(self, name: str, *keys: Any) -> list[Any]:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        return [_from_word(decl.item, self._get(base + 1 + i)) for i in range(self._get(base))]

    def append(self, name: str, item: Any, *keys: Any, too_many: DispatchError) -> None:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        length = self._get(base)
        if length >= decl.max_len:
            raise too_many
        self._set(base + 1 + length, _to_word(decl.item, item))
        self._set(base, length + 1)


# ---- dispatch ----

@dataclass(slots=True)
class CallContext:
    """What a call sees: its origin, value, block time, the pallet's storage, and the balances."""
    pallet: type[Pallet]
    computation: Any
    sender: str
    value: int
    timestamp: int
    block_number: int
    storage: Storage

    def emit(self, spec: EventSpec, **values: Any) -> None:
        topics, data = spec.compute_log(values)
        self.computation.add_log_entry(self.pallet.address, topics, data)

    def get_balance(self, account: str | bytes) -> int:
        return self.computation.state.get_balance(_address_bytes(account))

    def pay(self, to: str | bytes, amount: int) -> None:
        """Move ``amount`` from the pallet's account to ``to``."""
        if amount:
            state = self.computation.state
            state.delta_balance(self.pallet.address, -amount)
            state.delta_balance(_address_bytes(to), amount)


def _address_bytes(account: str | bytes) -> bytes:
    return account if isinstance(account, bytes) else bytes.fromhex(account[2:])


UnknownSelector = error("UnknownSelector(bytes4 selector)", "no call of this pallet has that selector")
NotPayable = error("NotPayable(uint256 value)", "value was sent to a call that is not payable")
BadCalldata = error("BadCalldata()", "the arguments do not decode as the call's ABI types")
_FRAMEWORK_ERRORS = (UnknownSelector, NotPayable, BadCalldata)


class Pallet:
    """Base of every pallet; subclasses declare ``name``, ``address``, storage, events, errors, calls."""
    name: ClassVar[str]
    address: ClassVar[bytes]
    storage_schema: ClassVar[dict[str, Any]] = {}
    events: ClassVar[tuple[EventSpec, ...]] = ()
    errors: ClassVar[tuple[ErrorSpec, ...]] = ()
    calls: ClassVar[tuple[CallSpec, ...]] = ()
    _by_selector: ClassVar[dict[bytes, CallSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs = [getattr(v, "__pallet_call__") for v in cls.__dict__.values() if hasattr(v, "__pallet_call__")]
        cls.calls = tuple(sorted(specs, key=lambda s: s.signature))
        cls._by_selector = {s.selector: s for s in cls.calls}
        if len(cls._by_selector) != len(cls.calls):
            raise TypeError(f"pallet {cls.__name__}: two calls share a selector")
        cls.errors = tuple(cls.errors) + tuple(e for e in _FRAMEWORK_ERRORS if e not in cls.errors)

    # -- the native handler the EVM calls --
    @classmethod
    def handle(cls, computation: Any) -> Any:
        """Run one message to the pallet inside ``computation`` (py-evm precompile protocol)."""
        msg = computation.msg
        data = bytes(msg.data_as_bytes)
        try:
            spec = cls._by_selector.get(data[:4])
            if spec is None:
                raise UnknownSelector(data[:4].ljust(4, b"\x00"))
            if msg.value and not spec.payable:
                raise NotPayable(msg.value)
            computation.consume_gas(spec.weight, reason=f"pallet {cls.name}.{spec.name}")
            try:
                args = abi_decode([a.type for a in spec.inputs], data[4:])
            except Exception:
                raise BadCalldata() from None
            if msg.is_static and not spec.view:
                raise WriteProtection("a pallet call that writes, under STATICCALL")
            ctx_ = CallContext(
                pallet=cls, computation=computation,
                sender=to_checksum_address(msg.sender), value=msg.value,
                timestamp=computation.state.timestamp, block_number=computation.state.block_number,
                storage=Storage(cls, computation.state),
            )
            result = getattr(cls(), spec.method)(ctx_, *args)
            if not spec.outputs:
                output = b""
            else:
                values = result if isinstance(result, tuple) and len(spec.outputs) > 1 else (result,)
                output = abi_encode([a.type for a in spec.outputs], list(values))
            computation.output = output
        except DispatchError as exc:
            data = exc.encode()
            computation.output = data
            raise Revert(data) from None
        return computation

    # -- genesis --
    @classmethod
    def genesis_accounts(cls) -> list[tuple[bytes, bytes]]:
        """(address, code) the pallet's genesis puts into the state."""
        return [(cls.address, PALLET_CODE)]


# ---- generated artifacts ----

def compute_abi(pallet: type[Pallet]) -> list[dict[str, Any]]:
    """The pallet's ABI JSON: functions, events, errors, in a stable order."""
    return ([c.abi() for c in pallet.calls]
            + [e.abi() for e in sorted(pallet.events, key=lambda e: e.name)]
            + [e.abi() for e in sorted(pallet.errors, key=lambda e: e.name)])


def _sol_params(args: Sequence[Arg], *, location: bool, event_: bool = False) -> str:
    out = []
    for a in args:
        t = a.type
        if location and (t.endswith("]") or t in ("bytes", "string")):
            t += " memory" if not event_ else ""
        if event_ and a.indexed:
            t += " indexed"
        out.append(f"{t} {a.name}")
    return ", ".join(out)


def compute_solidity_interface(pallet: type[Pallet]) -> str:
    """``I<Name>.sol``: the interface Solidity contracts use to call the pallet."""
    iname = "I" + pallet.name[:1].upper() + pallet.name[1:]
    addr = to_checksum_address(pallet.address)
    lines = [
        "// SPDX-License-Identifier: MIT",
        f"// Generated from runtime/pallets/{pallet.name} by `chameleon pallets abi`; do not edit.",
        "pragma solidity ^0.8.4;",
        "",
        f"address constant {pallet.name.upper()}_PALLET = {addr};",
        "",
        f"interface {iname} {{",
    ]
    for e in sorted(pallet.events, key=lambda e: e.name):
        lines.append(f"    event {e.name}({_sol_params(e.args, location=False, event_=True)});")
    for e in sorted(pallet.errors, key=lambda e: e.name):
        lines.append(f"    error {e.name}({_sol_params(e.args, location=False)});")
    for c in pallet.calls:
        mut = {"view": " view", "payable": " payable", "nonpayable": ""}[c.mutability]
        ret = f" returns ({_sol_params(c.outputs, location=True)})" if c.outputs else ""
        if c.doc:
            lines.append(f"    /// {c.doc}")
        lines.append(f"    function {c.name}({_sol_params(c.inputs, location=True)}) external{mut}{ret};")
    lines.append("}")
    return "\n".join(lines) + "\n"
