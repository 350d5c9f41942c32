"""LevelDB through plyvel: the node's one on-disk store.

Every block lands in one ``write`` (one plyvel write batch), so a kill -9 leaves the
database at the last whole block. Batches are not fsynced: a killed process loses
nothing, an OS crash or power cut may lose the newest blocks but never leaves half a
block (LevelDB replays only whole batches from its log). All keys are built in ``Keys``.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import plyvel


class StorageError(Exception):
    pass


class LevelDBStore:
    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = plyvel.DB(str(path), create_if_missing=True, lru_cache_size=64 * 1024 * 1024)
        except plyvel.IOError as exc:
            # LevelDB's LOCK: another process has this datadir open.
            raise StorageError(f"cannot open database at {path}: {exc}") from None
        self.path = path

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        with self._db.write_batch(transaction=True, sync=False) as batch:
            for key, value in puts.items():
                batch.put(key, value)
            for key in deletes:
                batch.delete(key)

    def iterate(self, prefix: bytes, start: bytes | None = None, stop: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        if start is None and stop is None:
            yield from self._db.iterator(prefix=prefix)
            return
        yield from self._db.iterator(
            start=prefix + (start or b""),
            stop=prefix + stop if stop is not None else None,
        )

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()


class CompiledModules:
    """The WASM compile cache's persistent half (vm.wasm.cache), under its own key prefix."""

    PREFIX = b"w:"

    def __init__(self, store: LevelDBStore) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store.get(self.PREFIX + key)

    def put(self, key: bytes, value: bytes) -> None:
        self._store.write({self.PREFIX + key: value})


class Keys:
    """Every key the node writes. State trie nodes and code live under b"s" (runtime);
    compiled WASM modules under b"w:" (``CompiledModules``)."""

    HEAD = b"m:head"
    FINALIZED = b"m:finalized"
    GENESIS = b"m:genesis"
    SPEC = b"m:spec"
    # Dev chains only: the head's hash and the state root anvil_setBalance & co. left on it
    # (the state reads at the head see and the next block builds on); gone once a block is sealed.
    DEV_HEAD_STATE = b"m:dev-head-state"
    # Fast sync: the last block stored without state (above the head until the state is in).
    FINAL_TIP = b"m:final-tip"

    @staticmethod
    def canonical(number: int) -> bytes:
        return b"n" + number.to_bytes(8, "big")

    @staticmethod
    def header(block_hash: bytes) -> bytes:
        return b"h" + block_hash

    @staticmethod
    def body(block_hash: bytes) -> bytes:
        return b"b" + block_hash

    @staticmethod
    def receipts(block_hash: bytes) -> bytes:
        return b"r" + block_hash

    @staticmethod
    def seal(block_hash: bytes) -> bytes:
        return b"c" + block_hash

    @staticmethod
    def justification(block_hash: bytes) -> bytes:
        return b"j" + block_hash

    @staticmethod
    def evidence(evidence_hash: bytes) -> bytes:
        return b"e" + evidence_hash

    @staticmethod
    def tx_location(tx_hash: bytes) -> bytes:
        return b"t" + tx_hash

    LOG_ADDRESS = b"la"
    LOG_TOPIC = b"lt"
    LOG_ANY = b"ln"  # + number: the block holds at least one log
    LOG_ANY_INDEXED = b"m:log-any"  # present when every block was indexed under LOG_ANY

    @staticmethod
    def log_any(number: int) -> bytes:
        return b"ln" + number.to_bytes(8, "big")

    @staticmethod
    def log_address(address: bytes, number: int) -> bytes:
        return b"la" + address + number.to_bytes(8, "big")

    @staticmethod
    def log_topic(topic: bytes, number: int) -> bytes:
        return b"lt" + topic + number.to_bytes(8, "big")
