"""The pallet framework: a pallet declared once in Python, reached through one Solidity ABI.

A pallet is a subclass of :class:`Pallet` with a name, an address, a storage schema
(:class:`StorageValue`, :class:`StorageMap`, :class:`StorageList`), events, errors and
calls (methods marked with :func:`call`, each with ABI types and a gas weight). From that
declaration come the ABI JSON (:func:`compute_abi`) and a Solidity interface
(:func:`compute_solidity_interface`), and the native handler the EVM runs when a message
reaches the pallet's address (:meth:`Pallet.handle`): it decodes the calldata, charges
the weight as gas, runs the call (its storage, logs and payments metered as it goes), and returns ABI-encoded results, or reverts with an
ABI custom error. py-evm's journal undoes every write of a reverted call, the value
sent included.

Pallet storage lives in the state trie as storage slots of the pallet's address:
``keccak256(b"chameleon.pallet/" + pallet + b"/" + field + abi.encode(key))`` (+ offset for
a struct's slots or a list's items), so it is under the one state root. A struct's fields
are packed as Solidity packs a struct (:func:`compute_layout`: value types low-order first,
a field that does not fit starts the next slot; field order is the layout). A ``string`` or
``bytes`` takes a slot of its own laid out as Solidity's: under 32 bytes inline with
``length * 2`` in the low byte, else ``length * 2 + 1`` there and the 32-byte chunks from
``keccak256(slot)``.

Gas. A call pays what the EVM would charge for the same effects, plus a fixed weight:

- storage: every slot read and write through :class:`Storage` (parameters and the paused
  flag included) costs what SLOAD/SSTORE cost on that slot of the pallet's address: EIP-2929
  cold 2,100 / warm 100; SSTORE from the slot's original, current and new value (EIP-2200:
  20,000 for 0 -> x on a clean slot, 2,900 for a clean x -> y, 100 for a no-op or a dirty
  slot), with EIP-3529 refunds through ``computation.refund_gas`` (the transaction caps them
  at a fifth of its gas). Writes at genesis (:class:`GenesisContext`) are free.
- logs (:meth:`CallContext.emit`): LOGn, 375 + 375 a topic + 8 a data byte.
- payments (:meth:`CallContext.pay`): as a CALL with value to an account that runs no code;
  balances (:meth:`CallContext.get_balance`) as BALANCE/SELFBALANCE; contract calls
  (:meth:`CallContext.call_contract`) as CALL.
- the call's weight (``@call(weight=...)``) is its fixed dispatch cost: the Python work
  of decoding, checking, computing, encoding, which the EVM would have run as opcodes. The
  rule: **25 gas per microsecond** of that work (1 gas per 40 ns), measured in-process on
  the development machine with the metered state access subtracted, rounded up to 500 gas.
  40 ns per gas is the rate at which py-evm on the same node turns CPU into gas running the
  OpenZeppelin contracts of ``scripts/bench/pallets.py`` (21-68 ns per gas, storage-bound
  contracts at the fast end), so a pallet call is priced as the EVM work it replaces. Views
  pay a small fixed weight plus their metered reads. Work that grows with the input is
  charged with :meth:`CallContext.charge`.

Every pallet also has, from the framework: parameters (:class:`Parameter`, tuned by
governance through :func:`apply_parameter`), a paused flag (state-changing calls refused
with ``Paused(address)`` while set), a genesis section of the chain spec
(:meth:`Pallet.parse_genesis`, :meth:`Pallet.apply_genesis`), and calls into another
pallet through that pallet's Python interface (:meth:`CallContext.enter`), never into its
storage.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eth.exceptions import OutOfGas, Revert, WriteProtection
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


# ---- gas: what the EVM (Prague, as py-evm charges it) costs for the same effect ----

COLD_SLOAD_COST = 2_100          # EIP-2929: first touch of a slot in a transaction
WARM_STORAGE_READ_COST = 100     # EIP-2929: any later touch
SSTORE_SET_GAS = 20_000          # EIP-2200: 0 -> nonzero, slot clean
SSTORE_RESET_GAS = 2_900         # EIP-2929: nonzero -> other, slot clean (5,000 - the cold surcharge)
SSTORE_CLEARS_SCHEDULE = 4_800   # EIP-3529: the refund for clearing a slot
SSTORE_SENTRY_GAS = 2_300        # EIP-2200: SSTORE fails with this little gas left
COLD_ACCOUNT_ACCESS_COST = 2_600  # EIP-2929
SELFBALANCE_COST = 5
GAS_CALLVALUE = 9_000
GAS_CALLSTIPEND = 2_300
GAS_NEWACCOUNT = 25_000
GAS_LOG = 375
GAS_LOGTOPIC = 375
GAS_LOGDATA = 8                  # per byte


def compute_sstore_cost(original: int, current: int, new: int) -> tuple[int, int]:
    """(gas, refund) of an SSTORE on a warm slot: EIP-2200 as amended by EIP-2929 and EIP-3529.

    The cold surcharge (``COLD_SLOAD_COST``) comes on top for a slot not yet touched in the
    transaction. The refund may be negative (a clear undone); the transaction caps the sum
    at a fifth of its gas (EIP-3529), as py-evm does for every refund.
    """
    if current == new:
        return WARM_STORAGE_READ_COST, 0
    if original == current:
        if original == 0:
            return SSTORE_SET_GAS, 0
        return SSTORE_RESET_GAS, SSTORE_CLEARS_SCHEDULE if new == 0 else 0
    refund = 0
    if original != 0:
        if current == 0:
            refund -= SSTORE_CLEARS_SCHEDULE
        if new == 0:
            refund += SSTORE_CLEARS_SCHEDULE
    if original == new:
        refund += (SSTORE_SET_GAS if original == 0 else SSTORE_RESET_GAS) - WARM_STORAGE_READ_COST
    return WARM_STORAGE_READ_COST, refund


def compute_log_cost(topics: int, data_bytes: int) -> int:
    """LOG0..LOG4: 375, plus 375 a topic, plus 8 a byte of data (the memory expansion a
    contract would pay to build the data is left out: the pallet builds it in Python)."""
    return GAS_LOG + GAS_LOGTOPIC * topics + GAS_LOGDATA * data_bytes


def charge_account_access(computation: Any, address: bytes) -> None:
    """EIP-2929: 2,600 the first time the transaction touches ``address``, 100 after."""
    state = computation.state
    if state.is_address_warm(address):
        computation.consume_gas(WARM_STORAGE_READ_COST, reason="pallet: warm account access")
    else:
        state.mark_address_warm(address)
        computation.consume_gas(COLD_ACCOUNT_ACCESS_COST, reason="pallet: cold account access")


# ---- storage ----

def _encode_key(type_: str, key: Any) -> bytes:
    """``abi.encode`` of one static key, without eth_abi's overhead for the usual types."""
    if type_ == "address":
        raw = key if isinstance(key, bytes) else bytes.fromhex(key[2:])
        return raw.rjust(32, b"\x00")
    if type_.startswith("uint") and isinstance(key, int) and 0 <= key < 2**256:
        return key.to_bytes(32, "big")
    if type_ == "bytes32" and isinstance(key, bytes) and len(key) == 32:
        return key
    return abi_encode([type_], [key])


def _slot(pallet: str, field_name: str, key_types: Sequence[str], keys: Sequence[Any]) -> int:
    try:
        return _cached_slot(pallet, field_name, tuple(key_types), tuple(keys))
    except TypeError:  # an unhashable key (a list): computed each time
        return _cached_slot.__wrapped__(pallet, field_name, tuple(key_types), tuple(keys))


@functools.lru_cache(maxsize=8192)
def _cached_slot(pallet: str, field_name: str, key_types: tuple[str, ...], keys: tuple[Any, ...]) -> int:
    data = b"chameleon.pallet/" + pallet.encode() + b"/" + field_name.encode()
    for type_, key in zip(key_types, keys, strict=True):
        data += _encode_key(type_, key)
    return int.from_bytes(keccak(data), "big")


@functools.lru_cache(maxsize=4096)
def _checksum(raw: bytes) -> str:
    return to_checksum_address(raw)


def compute_type_size(type_: str) -> int:
    """Bytes a value type takes in a packed slot (Solidity's rules); 32 for string/bytes (own slot)."""
    if type_ == "address":
        return 20
    if type_ == "bool":
        return 1
    if type_ in DYNAMIC_TYPES:
        return 32
    for prefix in ("uint", "int"):
        if type_.startswith(prefix) and type_[len(prefix):].isdigit():
            return int(type_[len(prefix):]) // 8
    if type_.startswith("bytes") and type_[5:].isdigit():
        return int(type_[5:])
    raise TypeError(f"not a storable value type: {type_}")


def _to_word(type_: str, value: Any) -> int:
    if type_ == "address":
        return int.from_bytes(value if isinstance(value, bytes) else bytes.fromhex(value[2:]), "big")
    if type_ == "bool":
        return int(bool(value))
    if type_.startswith("bytes"):
        return int.from_bytes(bytes(value), "big")
    return int(value)


def _from_word(type_: str, word: int) -> Any:
    if type_ == "address":
        return _checksum(word.to_bytes(20, "big"))
    if type_ == "bool":
        return bool(word)
    if type_.startswith("bytes"):
        return word.to_bytes(compute_type_size(type_), "big")
    return word


class StorageOverflow(ValueError):
    """A value wider than its packed field: the call reverts with ``ValueOutOfRange(field)``,
    nothing is written.

    Pallets pick widths their values cannot reach (ids and counters uint64, amounts of wei
    uint128 as FRAME's ``Balance``: the native supply is far below 2**128), so this stops a
    pathological chain (a genesis balance over 2**128) at a revert instead of corrupting a
    neighbouring field.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class FieldLayout:
    """Where a struct field lives: ``slot`` words after the struct's base, ``offset`` bytes from the low end."""
    name: str
    type: str
    slot: int
    offset: int
    size: int

    @property
    def mask(self) -> int:
        return (1 << (8 * self.size)) - 1

    def get(self, word: int) -> Any:
        return _from_word(self.type, (word >> (8 * self.offset)) & self.mask)

    def put(self, word: int, value: Any) -> int:
        raw = _to_word(self.type, value)
        if not 0 <= raw <= self.mask:
            raise StorageOverflow(f"{self.name}: {value!r} does not fit {self.type}", self.name)
        return (word & ~(self.mask << (8 * self.offset))) | (raw << (8 * self.offset))


@functools.cache
def compute_layout(fields: tuple[tuple[str, str], ...]) -> tuple[FieldLayout, ...]:
    """Solidity's struct layout: value types packed low-order first into 32-byte slots in
    declaration order, a field that does not fit starting the next slot; ``string``/``bytes``
    (and 32-byte types) take a slot of their own."""
    out: list[FieldLayout] = []
    slot, used = 0, 0
    for name, type_ in fields:
        size = compute_type_size(type_)
        if _is_dynamic(type_) or used + size > 32:
            if used:
                slot, used = slot + 1, 0
        out.append(FieldLayout(name, type_, slot, used, size))
        used += size
        if _is_dynamic(type_):
            used = 32
    return tuple(out)


@functools.cache
def _compute_slot_groups(fields: tuple[tuple[str, str], ...]) -> tuple[tuple[int, tuple[FieldLayout, ...]], ...]:
    """(slot, the fields in it) of a struct layout, in slot order."""
    groups: dict[int, list[FieldLayout]] = {}
    for f in compute_layout(fields):
        groups.setdefault(f.slot, []).append(f)
    return tuple((slot, tuple(members)) for slot, members in groups.items())


@dataclass(frozen=True, slots=True)
class StorageValue:
    """One value: an ABI value type (uint*, address, bool, bytesN) in one word, or string/bytes."""
    type: str
    keys: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class StorageMap:
    """keys -> a struct of fields laid out as Solidity packs a struct (:func:`compute_layout`)
    from the key's slot: field order is the layout."""
    keys: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    name: str = ""

    @property
    def layout(self) -> tuple[FieldLayout, ...]:
        return compute_layout(self.fields)


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
    """A parameter's value, unmetered (genesis, the executive): stored as value + 1 so an
    unset slot reads as the default. Inside a call, read it with ``ctx.param`` (metered)."""
    return Storage(pallet, state).get_parameter(name)


def apply_parameter(state: Any, pallet: type[Pallet], name: str, value: int) -> None:
    """Set a parameter, unmetered (genesis); the caller has checked it is declared and in range."""
    Storage(pallet, state).set_parameter(name, value)


def get_paused(state: Any, pallet: type[Pallet]) -> bool:
    """Whether ``pallet`` is paused, unmetered (outside a call)."""
    return Storage(pallet, state).get_paused()


def apply_paused(state: Any, pallet: type[Pallet], paused: bool) -> None:
    Storage(pallet, state).set_paused(paused)


class Storage:
    """A pallet's storage seen through a py-evm state; reads and writes are journaled by it.

    With a ``computation`` (inside a call) every slot read and write is charged as the EVM
    charges SLOAD and SSTORE on that slot of the pallet's address: EIP-2929 cold/warm
    access, EIP-2200/3529 SSTORE cost from the slot's original, current and new value, and
    EIP-3529 refunds through ``computation.refund_gas`` (capped by the transaction, as
    py-evm caps an SSTORE's). Without one (genesis, the executive's own reads) it is free.
    """

    def __init__(self, pallet: type[Pallet], state: Any, computation: Any = None) -> None:
        self._pallet = pallet
        self._state = state
        self._address = pallet.address
        self._computation = computation

    # -- the metered slot access everything below goes through --
    def _touch(self, slot: int) -> None:
        """Charge the EIP-2929 access of ``slot``: cold once a transaction, warm after."""
        state = self._state
        if state.is_storage_warm(self._address, slot):
            self._computation.consume_gas(WARM_STORAGE_READ_COST, reason=f"pallet {self._pallet.name}: SLOAD warm")
        else:
            state.mark_storage_warm(self._address, slot)
            self._computation.consume_gas(COLD_SLOAD_COST, reason=f"pallet {self._pallet.name}: SLOAD cold")

    def _get(self, slot: int) -> int:
        if self._computation is not None:
            self._touch(slot)
        return self._state.get_storage(self._address, slot)

    def _set(self, slot: int, value: int) -> None:
        computation = self._computation
        if computation is not None:
            state = self._state
            if computation.get_gas_remaining() <= SSTORE_SENTRY_GAS:
                raise OutOfGas("SSTORE fails below 2300 gas (EIP-2200)")
            current = state.get_storage(self._address, slot)
            original = state.get_storage(self._address, slot, from_journal=False)
            gas, refund = compute_sstore_cost(original, current, value)
            if not state.is_storage_warm(self._address, slot):
                state.mark_storage_warm(self._address, slot)
                gas += COLD_SLOAD_COST
            computation.consume_gas(gas, reason=f"pallet {self._pallet.name}: SSTORE")
            if refund:
                computation.refund_gas(refund)
        self._state.set_storage(self._address, slot, value)

    def _decl(self, name: str) -> Any:
        return self._pallet.storage_schema[name]

    # -- string/bytes: Solidity's layout (short: inline with length*2; long: length*2+1, chunks at keccak(slot)) --
    def _read(self, type_: str, slot: int) -> Any:
        if not _is_dynamic(type_):
            return _from_word(type_, self._get(slot))
        word = self._get(slot)
        if word & 1 == 0:
            raw = word.to_bytes(32, "big")[:(word & 0xFF) // 2]
        else:
            length = (word - 1) // 2
            base = _chunk_base(slot)
            raw = b"".join(self._get(base + i).to_bytes(32, "big") for i in range((length + 31) // 32))[:length]
        return raw.decode("utf-8", errors="replace") if type_ == "string" else raw

    def _write(self, type_: str, slot: int, value: Any) -> None:
        if not _is_dynamic(type_):
            self._set(slot, _to_word(type_, value))
            return
        raw = value.encode() if isinstance(value, str) else bytes(value)
        old = self._get(slot)
        old_chunks = (((old - 1) // 2) + 31) // 32 if old & 1 else 0
        base = _chunk_base(slot)
        if len(raw) < 32:
            new_chunks = 0
            self._set(slot, int.from_bytes(raw.ljust(31, b"\x00") + bytes([2 * len(raw)]), "big"))
        else:
            chunks = [raw[i:i + 32].ljust(32, b"\x00") for i in range(0, len(raw), 32)]
            new_chunks = len(chunks)
            for i, chunk in enumerate(chunks):
                self._set(base + i, int.from_bytes(chunk, "big"))
            self._set(slot, 2 * len(raw) + 1)
        for i in range(new_chunks, old_chunks):  # a shorter value leaves no stale words behind
            self._set(base + i, 0)

    # -- what pallets use --
    def get_value(self, name: str, *keys: Any) -> Any:
        decl = self._decl(name)
        return self._read(decl.type, _slot(self._pallet.name, name, decl.keys, keys))

    def set_value(self, name: str, value: Any, *keys: Any) -> None:
        decl = self._decl(name)
        self._write(decl.type, _slot(self._pallet.name, name, decl.keys, keys), value)

    def get_struct(self, name: str, *keys: Any, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """The struct's fields (``fields``: only those), each slot read once."""
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        wanted = decl.layout if fields is None else [f for f in decl.layout if f.name in fields]
        words: dict[int, int] = {}
        out: dict[str, Any] = {}
        for f in wanted:
            if _is_dynamic(f.type):
                out[f.name] = self._read(f.type, base + f.slot)
                continue
            if f.slot not in words:
                words[f.slot] = self._get(base + f.slot)
            out[f.name] = f.get(words[f.slot])
        return out

    def set_struct(self, name: str, values: dict[str, Any], *keys: Any) -> None:
        """Write the fields in ``values``: one write per slot touched; a slot only partly
        written is read first (read-modify-write), as Solidity updates a packed field."""
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        for slot, members in _compute_slot_groups(decl.fields):
            touched = [f for f in members if f.name in values]
            if not touched:
                continue
            if _is_dynamic(members[0].type):
                self._write(members[0].type, base + slot, values[members[0].name])
                continue
            word = 0 if len(touched) == len(members) else self._get(base + slot)
            for f in touched:
                word = f.put(word, values[f.name])
            self._set(base + slot, word)

    def get_list(self, name: str, *keys: Any) -> list[Any]:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        return [_from_word(decl.item, self._get(base + 1 + i)) for i in range(self._get(base))]

    def get_list_length(self, name: str, *keys: Any) -> int:
        """How many items the list holds (one slot read)."""
        decl = self._decl(name)
        return self._get(_slot(self._pallet.name, name, decl.keys, keys))

    def append(self, name: str, item: Any, *keys: Any, too_many: DispatchError) -> None:
        decl = self._decl(name)
        base = _slot(self._pallet.name, name, decl.keys, keys)
        length = self._get(base)
        if length >= decl.max_len:
            raise too_many
        self._set(base + 1 + length, _to_word(decl.item, item))
        self._set(base, length + 1)

    # -- the framework's own slots of every pallet: parameters and the paused flag --
    def get_parameter(self, name: str) -> int:
        decl = self._pallet.parameters[name]
        word = self._get(_parameter_slot(self._pallet.name, name))
        return decl.default if word == 0 else word - 1

    def set_parameter(self, name: str, value: int) -> None:
        self._set(_parameter_slot(self._pallet.name, name), value + 1)

    def get_paused(self) -> bool:
        return bool(self._get(_paused_slot(self._pallet.name)))

    def set_paused(self, paused: bool) -> None:
        self._set(_paused_slot(self._pallet.name), int(paused))


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
        """Log the event, charged as LOGn: 375 + 375 a topic + 8 a data byte."""
        topics, data = spec.compute_log(values)
        self.computation.consume_gas(compute_log_cost(len(topics), len(data)),
                                     reason=f"pallet {self.pallet.name}: LOG {spec.name}")
        self.computation.add_log_entry(self.pallet.address, topics, data)

    def get_balance(self, account: str | bytes) -> int:
        """An account's balance, charged as SELFBALANCE (5) for the pallet's own, else as BALANCE."""
        address = _address_bytes(account)
        if address == self.pallet.address:
            self.computation.consume_gas(SELFBALANCE_COST, reason=f"pallet {self.pallet.name}: SELFBALANCE")
        else:
            charge_account_access(self.computation, address)
        return self.computation.state.get_balance(address)

    def pay(self, to: str | bytes, amount: int) -> None:
        """Move ``amount`` from the pallet's account to ``to``.

        Charged as a CALL with value to an account that runs no code: its access (2,600
        cold, 100 warm), 9,000 for the value less the 2,300 stipend the callee hands back
        unused, and 25,000 when ``to`` is a new (empty) account (EIP-161). Nothing of
        ``to``'s code runs: a pallet pays as ``selfdestruct`` or a precompile would.
        """
        if amount:
            computation = self.computation
            state = computation.state
            if state.get_balance(self.pallet.address) < amount:
                # Pallets account for every wei they hold; this is a broken invariant, not bad input.
                raise AssertionError(f"pallet {self.pallet.name} pays {amount} with less held")
            target = _address_bytes(to)
            charge_account_access(computation, target)
            gas = GAS_CALLVALUE - GAS_CALLSTIPEND + (GAS_NEWACCOUNT if state.account_is_empty(target) else 0)
            computation.consume_gas(gas, reason=f"pallet {self.pallet.name}: value transfer")
            state.delta_balance(self.pallet.address, -amount)
            state.delta_balance(target, amount)

    def param(self, name: str) -> int:
        """The current value of one of this pallet's parameters (a metered slot read)."""
        return self.storage.get_parameter(name)

    def storage_of(self, other: type[Pallet]) -> Storage:
        """Another pallet's storage, metered as this call's: only for governance's own slots of
        every pallet (parameters, paused), never a pallet's fields."""
        return Storage(other, self.computation.state, self.computation)

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
        storage = Storage(other, self.computation.state, self.computation)
        if writes and storage.get_paused():
            raise Paused(to_checksum_address(other.address))
        self.pay(other.address, value)
        return CallContext(
            pallet=other, computation=self.computation, sender=to_checksum_address(self.pallet.address),
            value=value, timestamp=self.timestamp, block_number=self.block_number, storage=storage,
        )

    def call_contract(self, to: str | bytes, data: bytes, value: int = 0) -> tuple[bool, bytes]:
        """An ordinary message call from the pallet's address (any account: EVM contract or pallet).

        Charged as CALL is: the target's access (2,600 cold, 100 warm), 9,000 with value
        (25,000 more to a new account), then all but 1/64 of the gas left goes to the callee
        (EIP-150), plus the 2,300 stipend with value. Returns (success, output). A failed
        callee reverts only its own writes, as a CALL from a contract.
        """
        computation = self.computation
        state = computation.state
        if state.get_balance(self.pallet.address) < value:
            raise AssertionError(f"pallet {self.pallet.name} sends {value} with less held")
        target = _address_bytes(to)
        charge_account_access(computation, target)
        if value:
            extra = GAS_CALLVALUE + (GAS_NEWACCOUNT if state.account_is_empty(target) else 0)
            computation.consume_gas(extra, reason=f"pallet {self.pallet.name}: call value")
        if computation.msg.depth + 1 > 1024:
            return False, b""
        gas = computation.get_gas_remaining()
        gas -= gas // 64
        computation.consume_gas(gas, reason=f"pallet {self.pallet.name}: call")
        child = computation.prepare_child_message(
            gas=gas + (GAS_CALLSTIPEND if value else 0), to=target, value=value, data=data,
            code=state.get_code(target),
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
ValueOutOfRange = error("ValueOutOfRange(string field)", "a value wider than the field that stores it")
_FRAMEWORK_ERRORS = (UnknownSelector, NotPayable, BadCalldata, Paused, ValueOutOfRange)


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
            storage = Storage(cls, computation.state, computation)
            if not spec.view and storage.get_paused():
                raise Paused(to_checksum_address(cls.address))
            ctx_ = CallContext(
                pallet=cls, computation=computation,
                sender=to_checksum_address(msg.sender), value=msg.value,
                timestamp=computation.state.timestamp, block_number=computation.state.block_number,
                storage=storage,
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
        except StorageOverflow as exc:
            data = ValueOutOfRange(exc.field).encode()
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
