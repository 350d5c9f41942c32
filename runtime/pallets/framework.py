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
a struct's fields or a list's items), so it is under the one state root. A ``string`` or
``bytes`` field keeps its length in its slot and its 32-byte chunks from
``keccak256(slot)``, as Solidity lays out long strings.

Every pallet also has, from the framework: parameters (:class:`Parameter`, tuned by
governance through :func:`apply_parameter`), a paused flag (state-changing calls refused
with ``Paused(address)`` while set), a genesis section of the chain spec
(:meth:`Pallet.parse_genesis`, :meth:`Pallet.apply_genesis`), and calls into another
pallet through that pallet's Python interface (:meth:`CallContext.enter`), never into its
storage.
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
    if type_ == "bytes32":
        return int.from_bytes(bytes(value), "big")
    return int(value)


def _from_word(type_: str, word: int) -> Any:
    if type_ == "address":
        return to_checksum_address(word.to_bytes(20, "big"))
    if type_ == "bool":
        return bool(word)
    if type_ == "bytes32":
        return word.to_bytes(32, "big")
    return word


@dataclass(frozen=True, slots=True)
class StorageValue:
    """One value: an ABI value type (uint*, address, bool, bytes32) in one word, or string/bytes."""
    type: str
    keys: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class StorageMap:
    """keys -> a struct of fields, one slot per field from the key's slot (string/bytes: their length)."""
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


DYNAMIC_TYPES = ("string", "bytes")


def _is_dynamic(type_: str) -> bool:
    return type_ in DYNAMIC_TYPES


def _chunk_base(slot: int) -> int:
    return int.from_bytes(keccak(slot.to_bytes(32, "big")), "big")


@dataclass(frozen=True, slots=True)
class Parameter:
    """A number a pallet reads with ``ctx.param(name)``; set at genesis or by governance."""
    default: int
    minimum: int = 0
    maximum: int = 2**255
    doc: str = ""

    def validate(self, value: int) -> bool:
        return self.minimum <= value <= self.maximum


def encode_parameter_key(name: str) -> bytes:
    """The ``bytes32`` a parameter is named by in ``setParameter``: its ASCII name, right-padded."""
    raw = name.encode()
    if len(raw) > 32:
        raise ValueError(f"parameter name longer than 32 bytes: {name!r}")
    return raw.ljust(32, b"\x00")


def decode_parameter_key(key: bytes) -> str:
    return key.rstrip(b"\x00").decode("ascii", errors="replace")


def _parameter_slot(pallet: str, name: str) -> int:
    return _slot(pallet, "@param", ("bytes32",), (encode_parameter_key(name),))


def _paused_slot(pallet: str) -> int:
    return _slot(pallet, "@paused", (), ())


def get_parameter(state: Any, pallet: type[Pallet], name: str) -> int:
    """A parameter's value: stored as value + 1 so an unset slot reads as the default."""
    decl = pallet.parameters[name]
    word = state.get_storage(pallet.address, _parameter_slot(pallet.name, name))
    return decl.default if word == 0 else word - 1


def apply_parameter(state: Any, pallet: type[Pallet], name: str, value: int) -> None:
    """Set a parameter (the caller has checked it is declared and in range)."""
    state.set_storage(pallet.address, _parameter_slot(pallet.name, name), value + 1)


def get_paused(state: Any, pallet: type[Pallet]) -> bool:
    return bool(state.get_storage(pallet.address, _paused_slot(pallet.name)))


def apply_paused(state: Any, pallet: type[Pallet], paused: bool) -> None:
    state.set_storage(pallet.address, _paused_slot(pallet.name), int(paused))


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

    def _read(self, type_: str, slot: int) -> Any:
        if not _is_dynamic(type_):
            return _from_word(type_, self._get(slot))
        length = self._get(slot)
        base = _chunk_base(slot)
        raw = b"".join(self._get(base + i).to_bytes(32, "big") for i in range((length + 31) // 32))[:length]
        return raw.decode("utf-8", errors="replace") if type_ == "string" else raw

    def _write(self, type_: str, slot: int, value: Any) -> None:
        if not _is_dynamic(type_):
            self._set(slot, _to_word(type_, value))
            return
        raw = value.encode() if isinstance(value, str) else bytes(value)
        old_chunks = (self._get(slot) + 31) // 32
        base = _chunk_base(slot)
        chunks = [raw[i:i + 32].ljust(32, b"\x00") for i in range(0, len(raw), 32)]
        for i, chunk in enumerate(chunks):
            self._set(base + i, int.from_bytes(chunk, "big"))
        for i in range(len(chunks), old_chunks):  # a shorter value leaves no stale words behind
            self._set(base + i, 0)
        self._set(slot, len(raw))

    def get_value(self, name: str, *keys: Any) -> Any:
        decl = self._decl(name)
        return self._read(decl.type, _slot(self._pallet.name, name, decl.keys, keys))

    def set_value(self, name: str, value: Any, *keys: Any) -> None:
        decl = self._decl(name)
        self._write(decl.type, _slot(self._pallet.name, name, decl.keys, keys), value)

    def get_struct(self, name: str, *keys: Any) -> dict[str, Any]:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        return {f: self._read(t, base + i) for i, (f, t) in enumerate(decl.fields)}

    def set_struct(self, name: str, values: dict[str, Any], *keys: Any) -> None:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        for i, (f, t) in enumerate(decl.fields):
            if f in values:
                self._write(t, base + i, values[f])

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
            if state.get_balance(self.pallet.address) < amount:
                # Pallets account for every wei they hold; this is a broken invariant, not bad input.
                raise AssertionError(f"pallet {self.pallet.name} pays {amount} with less held")
            state.delta_balance(self.pallet.address, -amount)
            state.delta_balance(_address_bytes(to), amount)

    def param(self, name: str) -> int:
        """The current value of one of this pallet's parameters."""
        return get_parameter(self.computation.state, self.pallet, name)

    def charge(self, gas: int, reason: str) -> None:
        """Charge extra gas for work that grows with the input (items, bytes)."""
        self.computation.consume_gas(gas, reason=f"pallet {self.pallet.name}: {reason}")

    def enter(self, other: type[Pallet], *, weight: int, value: int = 0, writes: bool = True) -> CallContext:
        """The context to call ``other`` through its Python interface: as this pallet, with ``value``.

        Charges ``weight`` as gas, refuses with ``Paused`` if ``other`` is paused and the
        interface function ``writes`` (reads and settlement bookkeeping pass ``writes=False``,
        as views answer while paused), and moves ``value`` from this pallet's account to
        ``other``'s, as a call with value would.
        """
        self.charge(weight, f"{other.name} interface")
        if writes and get_paused(self.computation.state, other):
            raise Paused(to_checksum_address(other.address))
        self.pay(other.address, value)
        return CallContext(
            pallet=other, computation=self.computation, sender=to_checksum_address(self.pallet.address),
            value=value, timestamp=self.timestamp, block_number=self.block_number,
            storage=Storage(other, self.computation.state),
        )

    def call_contract(self, to: str | bytes, data: bytes, value: int = 0) -> tuple[bool, bytes]:
        """An ordinary message call from the pallet's address (any account: EVM contract or pallet).

        Gives the callee all but 1/64 of the gas left (EIP-150); returns (success, output). A
        failed callee reverts only its own writes, as a CALL from a contract.
        """
        computation = self.computation
        state = computation.state
        if state.get_balance(self.pallet.address) < value:
            raise AssertionError(f"pallet {self.pallet.name} sends {value} with less held")
        if computation.msg.depth + 1 > 1024:
            return False, b""
        gas = computation.get_gas_remaining()
        gas -= gas // 64
        computation.consume_gas(gas, reason=f"pallet {self.pallet.name}: call")
        target = _address_bytes(to)
        child = computation.prepare_child_message(
            gas=gas, to=target, value=value, data=data, code=state.get_code(target),
            should_transfer_value=True, is_static=False,
        )
        result = computation.apply_child_computation(child)
        if result.should_return_gas:
            computation.return_gas(result.get_gas_remaining())
        return not result.is_error, bytes(result.output)


def _address_bytes(account: str | bytes) -> bytes:
    return account if isinstance(account, bytes) else bytes.fromhex(account[2:])


UnknownSelector = error("UnknownSelector(bytes4 selector)", "no call of this pallet has that selector")
NotPayable = error("NotPayable(uint256 value)", "value was sent to a call that is not payable")
BadCalldata = error("BadCalldata()", "the arguments do not decode as the call's ABI types")
Paused = error("Paused(address pallet)", "governance paused the pallet: its state-changing calls are refused")
_FRAMEWORK_ERRORS = (UnknownSelector, NotPayable, BadCalldata, Paused)


class Pallet:
    """Base of every pallet; subclasses declare ``name``, ``address``, storage, events, errors, calls."""
    name: ClassVar[str]
    address: ClassVar[bytes]
    storage_schema: ClassVar[dict[str, Any]] = {}
    events: ClassVar[tuple[EventSpec, ...]] = ()
    errors: ClassVar[tuple[ErrorSpec, ...]] = ()
    calls: ClassVar[tuple[CallSpec, ...]] = ()
    parameters: ClassVar[dict[str, Parameter]] = {}
    genesis_fields: ClassVar[frozenset[str]] = frozenset()  # genesis keys beyond the parameters
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
            if not spec.view and get_paused(computation.state, cls):
                raise Paused(to_checksum_address(cls.address))
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

    @classmethod
    def parse_genesis(cls, section: Any, where: str) -> dict[str, Any]:
        """Check the pallet's section of the chain spec; the parsed section.

        Parameters are numbers in range; other keys are the pallet's own (``genesis_fields``),
        checked by :meth:`parse_genesis_extra`.

        Raises:
            GenesisError: naming the field and what is wrong with it.
        """
        if not isinstance(section, dict):
            raise GenesisError(where, "expected an object")
        parsed: dict[str, Any] = {}
        for key in sorted(section):
            value = section[key]
            if key in cls.parameters:
                number = parse_genesis_number(value, f"{where}.{key}")
                decl = cls.parameters[key]
                if not decl.validate(number):
                    raise GenesisError(f"{where}.{key}", f"must be in [{decl.minimum}, {decl.maximum}], got {number}")
                parsed[key] = number
            elif key not in cls.genesis_fields:
                known = sorted([*cls.parameters, *cls.genesis_fields])
                raise GenesisError(f"{where}.{key}", f"unknown field (known: {', '.join(known) or 'none'})")
        parsed.update(cls.parse_genesis_extra({k: v for k, v in section.items() if k in cls.genesis_fields}, where))
        return parsed

    @classmethod
    def parse_genesis_extra(cls, section: dict[str, Any], where: str) -> dict[str, Any]:
        """The pallet's own genesis keys, checked (none by default)."""
        return {}

    @classmethod
    def apply_genesis(cls, accounts: Any, parsed: dict[str, Any]) -> None:
        """Write the pallet's genesis into an ``AccountDB``: its parameters, then its own keys."""
        for name in sorted(cls.parameters):
            if name in parsed:
                apply_parameter(accounts, cls, name, parsed[name])
        cls.apply_genesis_extra(GenesisContext(cls, accounts), parsed)

    @classmethod
    def apply_genesis_extra(cls, ctx: GenesisContext, parsed: dict[str, Any]) -> None:
        """Write the pallet's own genesis keys (nothing by default)."""


class GenesisError(ValueError):
    """A pallet's genesis section is wrong: ``where`` names the field."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def parse_genesis_number(value: Any, where: str, *, bits: int = 256) -> int:
    """A JSON number or a decimal / 0x-hex string, non-negative and under 2**bits."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise GenesisError(where, f"expected a number or a numeric string, got {value!r}")
    try:
        number = value if isinstance(value, int) else int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        raise GenesisError(where, f"not a number: {value!r}") from None
    if not 0 <= number < 2**bits:
        raise GenesisError(where, f"must be in [0, 2**{bits}), got {value!r}")
    return number


def parse_genesis_address(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise GenesisError(where, f"expected a 0x-prefixed 20-byte address, got {value!r}")
    try:
        return to_checksum_address(value)
    except ValueError:
        raise GenesisError(where, f"not an address: {value!r}") from None


@dataclass(slots=True)
class GenesisContext:
    """What a pallet's genesis writes through: its storage, and funds minted into its account."""
    pallet: type[Pallet]
    accounts: Any

    @property
    def storage(self) -> Storage:
        return Storage(self.pallet, self.accounts)

    def mint(self, amount: int) -> None:
        """Genesis funds the pallet holds for what it sets up (schedules, treasury)."""
        self.accounts.set_balance(self.pallet.address, self.accounts.get_balance(self.pallet.address) + amount)


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
