"""Dev-chain state edits: what anvil_setBalance & co., anvil_dumpState and anvil_loadState do.

Each function opens the state at a root over the store, changes it and returns the new
root with the trie nodes to write (``Chain.set_head_state`` writes them with the root in
one atomic batch). Nothing here executes a transaction; the runtime is not involved.

**The dump format** (``anvil_dumpState``; ``encode_dump``/``decode_dump``): gzip of a JSON
object, as Anvil's, but keyed by hash, because the state trie keeps ``keccak256(address)``
and ``keccak256(slot)``, not the address and slot themselves:

    {"format": "chameleon-state/1",
     "accounts": {"0x<keccak256(address)>": {"nonce": 1, "balance": "0x…", "code": "0x…",
                                              "storage": {"0x<keccak256(slot)>": "0x<32 bytes>"}}}}

It holds every account of the state, so loading it into a fresh dev chain gives the same
state root. ``anvil_loadState`` also takes Anvil's own dumps (accounts keyed by address,
storage by slot; their blocks and transactions are ignored). Loading merges as Anvil does:
each account in the dump gets the dump's balance and code, the higher of the two nonces,
and the dump's storage slots (other slots are kept); accounts not in the dump are untouched.
"""
from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.rlp.accounts import Account
from trie import HexaryTrie
from trie.iter import NodeIterator

from runtime.primitives.hashing import keccak256
from runtime.state.store import KeyValueStore, StateDB

DUMP_FORMAT = "chameleon-state/1"


class StateDumpError(ValueError):
    """A blob anvil_loadState cannot read; the message says why."""


@dataclass(slots=True)
class AccountRecord:
    """One account of a dump, by the hash of its address; storage by the hash of the slot."""

    address_hash: bytes
    nonce: int = 0
    balance: int = 0
    code: bytes = b""
    storage: dict[bytes, int] = field(default_factory=dict)


def apply_account_edit(store: KeyValueStore, state_root: bytes, edit: Callable[[AccountDB], None]) -> tuple[bytes, dict[bytes, bytes]]:
    """Run ``edit`` on the accounts at ``state_root``; (new root, trie nodes to write)."""
    db = StateDB(store)
    accounts = AccountDB(AtomicDB(db), state_root)
    edit(accounts)
    accounts.persist()
    return accounts.state_root, db.take_writes()


def get_accounts(store: KeyValueStore, state_root: bytes) -> list[AccountRecord]:
    """Every account of the state at ``state_root``, with its code and storage."""
    db = StateDB(store)
    records = []
    for address_hash, encoded in NodeIterator(HexaryTrie(db, state_root)).items():
        account = rlp.decode(encoded, sedes=Account)
        storage: dict[bytes, int] = {}
        if account.storage_root != BLANK_ROOT_HASH:
            for slot_hash, value in NodeIterator(HexaryTrie(db, account.storage_root)).items():
                storage[slot_hash] = rlp.decode(value, sedes=rlp.sedes.big_endian_int)
        code = db[account.code_hash] if account.code_hash != EMPTY_SHA3 else b""
        records.append(AccountRecord(address_hash, account.nonce, account.balance, code, storage))
    return records


def merge_accounts(store: KeyValueStore, state_root: bytes, records: Iterable[AccountRecord]) -> tuple[bytes, dict[bytes, bytes]]:
    """Merge ``records`` into the state at ``state_root`` as anvil_loadState does; (new root,
    trie nodes and code to write)."""
    db = StateDB(store)
    accounts = HexaryTrie(db, state_root)
    for record in records:
        encoded = accounts.get(record.address_hash)
        old = rlp.decode(encoded, sedes=Account) if encoded else Account()
        storage = HexaryTrie(db, old.storage_root)
        for slot_hash, value in record.storage.items():
            if value:
                storage.set(slot_hash, rlp.encode(value))
            else:
                storage.delete(slot_hash)
        code_hash = keccak256(record.code) if record.code else EMPTY_SHA3
        if record.code:
            db[code_hash] = record.code
        merged = Account(max(old.nonce, record.nonce), record.balance, storage.root_hash, code_hash)
        accounts.set(record.address_hash, rlp.encode(merged))
    return accounts.root_hash, db.take_writes()


# -- the blob --------------------------------------------------------------------------


def encode_dump(records: Iterable[AccountRecord]) -> bytes:
    accounts = {}
    for record in sorted(records, key=lambda r: r.address_hash):
        accounts["0x" + record.address_hash.hex()] = {
            "nonce": record.nonce,
            "balance": hex(record.balance),
            "code": "0x" + record.code.hex(),
            "storage": {"0x" + slot.hex(): "0x" + value.to_bytes(32, "big").hex() for slot, value in sorted(record.storage.items())},
        }
    text = json.dumps({"format": DUMP_FORMAT, "accounts": accounts}, separators=(",", ":"))
    return gzip.compress(text.encode(), mtime=0)


def decode_dump(blob: bytes) -> list[AccountRecord]:
    """Our dumps and Anvil's, gzipped or plain JSON.

    Raises:
        StateDumpError: not a dump, or a field that does not parse.
    """
    if blob[:2] == b"\x1f\x8b":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as exc:
            raise StateDumpError(f"not a gzip stream: {exc}") from None
    try:
        data = json.loads(blob)
    except (UnicodeDecodeError, ValueError):
        raise StateDumpError("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise StateDumpError("no \"accounts\" object")
    hashed = data.get("format") == DUMP_FORMAT
    if not hashed and "format" in data:
        raise StateDumpError(f"unknown format {data['format']!r}")
    records = []
    for key, account in data["accounts"].items():
        try:
            address = _hex_bytes(key, 32 if hashed else 20)
            storage = {}
            for slot, value in (account.get("storage") or {}).items():
                slot_key = _hex_bytes(slot, 32) if hashed else keccak256(_parse_int(slot).to_bytes(32, "big"))
                storage[slot_key] = _parse_int(value)
            records.append(AccountRecord(
                address_hash=address if hashed else keccak256(address),
                nonce=_parse_int(account.get("nonce", 0)),
                balance=_parse_int(account.get("balance", 0)),
                code=_hex_bytes(account.get("code") or "0x"),
                storage=storage,
            ))
        except (AttributeError, TypeError, ValueError, OverflowError) as exc:
            raise StateDumpError(f"account {key}: {exc}") from None
    return records


def _hex_bytes(value: str, length: int | None = None) -> bytes:
    digits = value[2:] if value[:2] in ("0x", "0X") else value
    data = bytes.fromhex(digits)
    if length is not None and len(data) != length:
        raise ValueError(f"{value!r}: expected {length} bytes")
    return data


def _parse_int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("expected a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        number = int(value, 16) if value[:2] in ("0x", "0X") else int(value)
    else:
        raise TypeError(f"expected a number, got {value!r}")
    if not 0 <= number < 2**256:
        raise ValueError(f"{value!r} out of range")
    return number
