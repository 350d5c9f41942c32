"""The consensus write-ahead log of a validator: what it signed at the current height,
and the block it proposed, so a restart picks the height up where it stopped.

The sign state alone stops a restarted validator from signing again what it already
signed; without its own earlier messages its core then waits for votes that only it could
give (a single validator would stall for ever). Records are appended and fsynced *before*
the message they hold leaves the node; the log is emptied when a height is committed.

One record per line of bytes: ``rlp([kind, height, payload])``, length-prefixed (4 bytes).
A torn last record (a crash mid-append) is ignored on reading.
"""
from __future__ import annotations

import os
from pathlib import Path

import rlp

BLOCK = 1  # payload: rlp([header rlp, [raw txs]]), the block this node proposed
MESSAGE = 2  # payload: a signed proposal or vote, as sent


class ConsensusWal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, kind: int, height: int, payload: bytes) -> None:
        record = rlp.encode([kind, height, payload])
        with open(self.path, "ab") as f:
            f.write(len(record).to_bytes(4, "big") + record)
            f.flush()
            os.fsync(f.fileno())

    def records(self, height: int) -> list[tuple[int, bytes]]:
        """(kind, payload) of the records for ``height``, in the order written."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out, offset = [], 0
        while offset + 4 <= len(data):
            size = int.from_bytes(data[offset : offset + 4], "big")
            chunk = data[offset + 4 : offset + 4 + size]
            if len(chunk) < size:
                break  # torn tail
            offset += 4 + size
            try:
                kind, record_height, payload = rlp.decode(chunk)
            except rlp.exceptions.DecodingError:
                break
            if int.from_bytes(record_height, "big") == height:
                out.append((int.from_bytes(kind, "big"), bytes(payload)))
        return out

    def clear(self) -> None:
        """A height was committed: nothing before it is needed again."""
        try:
            with open(self.path, "r+b") as f:
                f.truncate(0)
                f.flush()
                os.fsync(f.fileno())
        except FileNotFoundError:
            pass
