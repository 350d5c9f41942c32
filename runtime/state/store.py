"""The key-value store the chain lives in, and an in-memory one for unit tests.

The node's on-disk store (plyvel, ``node/storage.py``) has the same interface. Every
write goes through ``write``, which is atomic: all of it lands, or none.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from eth.db.backends.base import BaseDB


class KeyValueStore(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        """Apply all puts and deletes atomically."""

    def iterate(self, prefix: bytes, start: bytes | None = None, stop: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Keys with ``prefix`` in ``[prefix+start, prefix+stop)``, in byte order."""

    def close(self) -> None: ...


class MemoryStore:
    """A dict with the store's interface: unit tests and throwaway state only."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def write(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        self._data.update(puts)
        for key in deletes:
            self._data.pop(key, None)

    def iterate(self, prefix: bytes, start: bytes | None = None, stop: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        low = prefix + (start or b"")
        high = prefix + stop if stop is not None else None
        for key in sorted(k for k in self._data if k.startswith(prefix)):
            if key < low or (high is not None and key >= high):
                continue
            yield key, self._data[key]

    def close(self) -> None:
        pass


STATE_PREFIX = b"s"


class StateDB(BaseDB):
    """py-evm's view of the state: trie nodes and code, keyed by hash.

    Writes stay in memory until ``take_writes`` hands them to the block's one atomic
    batch; reads see those pending writes first, then the store.
    """

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store
        self._pending: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self._pending.get(key)
        if value is None:
            value = self._store.get(STATE_PREFIX + key)
            if value is None:
                raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._pending[key] = value

    def _exists(self, key: bytes) -> bool:
        return key in self._pending or self._store.get(STATE_PREFIX + key) is not None

    def __delitem__(self, key: bytes) -> None:
        # Trie nodes are content-addressed and may be shared with older roots that
        # RPC still serves: never delete them (no pruning yet).
        self._pending.pop(key, None)

    def take_writes(self) -> dict[bytes, bytes]:
        """The pending writes as store keys; the view forgets them."""
        writes = {STATE_PREFIX + key: value for key, value in self._pending.items()}
        self._pending.clear()
        return writes
