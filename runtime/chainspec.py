"""Chain specs: the JSON that defines a chain's genesis and rules (see genesis/schema.json).

``load_chain_spec`` refuses a bad spec with the field and the reason, before anything
is written anywhere.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import InvalidChainSpec

# The engines' own sections are checked by consensus.registry when a node starts.
ENGINES = ("dev", "poa", "bft")
MAX_GAS_LIMIT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ChainSpec:
    name: str
    chain_id: int
    gas_limit: int
    base_fee_per_gas: int
    timestamp: int = 0
    extra_data: bytes = b""
    coinbase: bytes = b"\x00" * 20
    alloc: tuple[tuple[bytes, GenesisAccount], ...] = ()  # sorted by address
    consensus: dict[str, Any] = field(default_factory=lambda: {"engine": "dev"})
    pallets: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return self.consensus["engine"]


def _quantity(value: Any, where: str, *, bits: int = 256) -> int:
    if isinstance(value, bool):
        raise InvalidChainSpec(where, "expected a number or a 0x-prefixed hex quantity, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise InvalidChainSpec(where, f"not a number: {value!r}") from None
    else:
        raise InvalidChainSpec(where, f"expected a number or a 0x-prefixed hex quantity, got {type(value).__name__}")
    if number < 0:
        raise InvalidChainSpec(where, f"must not be negative: {value!r}")
    if number >= 2**bits:
        raise InvalidChainSpec(where, f"does not fit in {bits} bits: {value!r}")
    return number


def _hex_bytes(value: Any, where: str, *, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise InvalidChainSpec(where, f"expected 0x-prefixed hex, got {value!r}")
    try:
        data = bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidChainSpec(where, f"not valid hex: {value!r}") from None
    if length is not None and len(data) != length:
        raise InvalidChainSpec(where, f"expected {length} bytes, got {len(data)}")
    return data


def _address(value: Any, where: str) -> bytes:
    return _hex_bytes(value, where, length=20)


KNOWN_FIELDS = {
    "name", "chainId", "gasLimit", "baseFeePerGas", "timestamp", "extraData", "coinbase",
    "alloc", "consensus", "pallets", "$schema", "description",
}
ACCOUNT_FIELDS = {"balance", "nonce", "code", "storage"}


def _validate_pallets(pallets: dict[str, Any]) -> None:
    from runtime.pallets import PALLETS
    from runtime.pallets.framework import GenesisError

    by_name = {p.name: p for p in PALLETS}
    for name in sorted(pallets):
        if name not in by_name:
            raise InvalidChainSpec(f"pallets.{name}", f"unknown pallet (known: {', '.join(sorted(by_name))})")
        try:
            by_name[name].parse_genesis(pallets[name], f"pallets.{name}")
        except GenesisError as exc:
            raise InvalidChainSpec(exc.where, exc.reason) from None


def parse_chain_spec(data: Any) -> ChainSpec:
    """Validate a decoded JSON chain spec.

    Raises:
        InvalidChainSpec: naming the first wrong field.
    """
    if not isinstance(data, dict):
        raise InvalidChainSpec("(top level)", "expected a JSON object")
    unknown = sorted(set(data) - KNOWN_FIELDS)
    if unknown:
        raise InvalidChainSpec(unknown[0], "unknown field")
    for required in ("name", "chainId", "gasLimit", "baseFeePerGas"):
        if required not in data:
            raise InvalidChainSpec(required, "missing")
    name = data["name"]
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InvalidChainSpec("name", "expected a non-empty string of letters, digits, '-', '_', '.'")
    chain_id = _quantity(data["chainId"], "chainId", bits=64)
    if chain_id == 0:
        raise InvalidChainSpec("chainId", "must be positive")
    gas_limit = _quantity(data["gasLimit"], "gasLimit", bits=63)
    if gas_limit < 5000:
        raise InvalidChainSpec("gasLimit", "must be at least 5000")
    base_fee = _quantity(data["baseFeePerGas"], "baseFeePerGas")
    timestamp = _quantity(data.get("timestamp", 0), "timestamp", bits=64)
    extra = _hex_bytes(data.get("extraData", "0x"), "extraData")
    if len(extra) > 32:
        raise InvalidChainSpec("extraData", f"at most 32 bytes, got {len(extra)}")
    coinbase = _address(data.get("coinbase", "0x" + "00" * 20), "coinbase")

    alloc_raw = data.get("alloc", {})
    if not isinstance(alloc_raw, dict):
        raise InvalidChainSpec("alloc", "expected an object of address -> account")
    alloc: dict[bytes, GenesisAccount] = {}
    for key, account in alloc_raw.items():
        where = f"alloc.{key}"
        addr = _address(key if key.startswith(("0x", "0X")) else "0x" + key, where)
        if addr in alloc:
            raise InvalidChainSpec(where, "address listed twice")
        if not isinstance(account, dict):
            raise InvalidChainSpec(where, "expected an object with balance, nonce, code, storage")
        extra_keys = sorted(set(account) - ACCOUNT_FIELDS)
        if extra_keys:
            raise InvalidChainSpec(f"{where}.{extra_keys[0]}", "unknown field")
        storage_raw = account.get("storage", {})
        if not isinstance(storage_raw, dict):
            raise InvalidChainSpec(f"{where}.storage", "expected an object of slot -> value")
        storage = tuple(sorted(
            (_quantity(slot, f"{where}.storage.{slot}"), _quantity(value, f"{where}.storage.{slot}"))
            for slot, value in storage_raw.items()
        ))
        alloc[addr] = GenesisAccount(
            balance=_quantity(account.get("balance", 0), f"{where}.balance"),
            nonce=_quantity(account.get("nonce", 0), f"{where}.nonce", bits=64),
            code=_hex_bytes(account.get("code", "0x"), f"{where}.code"),
            storage=storage,
        )

    consensus = data.get("consensus", {"engine": "dev"})
    if not isinstance(consensus, dict):
        raise InvalidChainSpec("consensus", "expected an object with an 'engine' field")
    engine = consensus.get("engine")
    if engine not in ENGINES:
        raise InvalidChainSpec("consensus.engine", f"expected one of {', '.join(ENGINES)}, got {engine!r}")
    block_time = consensus.get("blockTime", 0 if engine == "dev" else 1)
    if isinstance(block_time, bool) or not isinstance(block_time, (int, float)) or block_time < 0:
        raise InvalidChainSpec("consensus.blockTime", "expected seconds >= 0 (dev: 0 seals each transaction at once)")
    pallets = data.get("pallets", {})
    if not isinstance(pallets, dict):
        raise InvalidChainSpec("pallets", "expected an object")
    _validate_pallets(pallets)

    return ChainSpec(
        name=name,
        chain_id=chain_id,
        gas_limit=gas_limit,
        base_fee_per_gas=base_fee,
        timestamp=timestamp,
        extra_data=extra,
        coinbase=coinbase,
        alloc=tuple(sorted(alloc.items())),
        consensus=dict(consensus),
        pallets=dict(pallets),
    )


def load_chain_spec(path: str | Path) -> ChainSpec:
    """Read and validate a chain spec file.

    Raises:
        InvalidChainSpec: unreadable file, bad JSON, or a bad field.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InvalidChainSpec(str(path), f"cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidChainSpec(str(path), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return parse_chain_spec(data)


def encode_chain_spec(spec: ChainSpec) -> dict[str, Any]:
    """The JSON form of a spec (inverse of parse_chain_spec)."""
    def hexq(n: int) -> str:
        return hex(n)

    alloc = {}
    for addr, acct in spec.alloc:
        entry: dict[str, Any] = {"balance": hexq(acct.balance)}
        if acct.nonce:
            entry["nonce"] = acct.nonce
        if acct.code:
            entry["code"] = "0x" + acct.code.hex()
        if acct.storage:
            entry["storage"] = {hexq(k): hexq(v) for k, v in acct.storage}
        alloc["0x" + addr.hex()] = entry
    return {
        "name": spec.name,
        "chainId": spec.chain_id,
        "gasLimit": hexq(spec.gas_limit),
        "baseFeePerGas": hexq(spec.base_fee_per_gas),
        "timestamp": hexq(spec.timestamp),
        "extraData": "0x" + spec.extra_data.hex(),
        "coinbase": "0x" + spec.coinbase.hex(),
        "alloc": alloc,
        "consensus": spec.consensus,
        "pallets": spec.pallets,
    }
