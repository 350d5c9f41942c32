"""The consensus write-ahead log of a validator, on disk: ``<datadir>/consensus/wal``.

The records are ``consensus.wal``'s (the inputs of the Tendermint core, this validator's own
signed messages, an ``EndHeight`` marker); this module frames them in a file, adds the
blocks this node proposed (so a restart can execute them again), and decides what is
fsynced. As CometBFT's WAL:

- every input is appended *before* the core handles it; own messages, timeouts and
  built blocks with ``sync=True`` (CometBFT's ``WriteSync``), peer messages with
  ``sync=False`` (flushed to the OS, so a killed process loses nothing; a power cut may
  lose the latest, which are only peer messages: an fsync writes every earlier record too,
  so what led to an own message is durable with it);
- when a height is committed the file is replaced by one holding only ``EndHeight(h)``
  (written aside, fsynced, renamed, directory fsynced), so it holds one height at most;
- a poa validator logs the finality votes it receives (flushed) and those it signs
  (fsynced, after its sign state: a vote it may need to count again), and at each finality
  ``replace``s the file by a ``FinalizedMarker`` and the votes above it
  (``consensus.wal.compute_poa_replay``), so it holds the votes above the finalized block;
- a torn or corrupt tail (a crash mid-append) ends the log: ``load`` cuts it off, so
  what is appended next is read back.

A frame: ``length (4 bytes, big-endian) || crc32(body) (4 bytes) || body``, where body is
``0x01 || consensus.wal record`` or ``0x02 || rlp([height, header rlp, encoded body])``.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable

import rlp
from rlp.sedes import big_endian_int

from consensus.errors import MalformedMessage
from consensus.wal import EndHeight, WalRecord, decode_record, encode_record

TAG_RECORD = 1
TAG_BLOCK = 2
FRAME_HEADER = 8
MAX_FRAME_BYTES = 64 * 1024 * 1024  # a block body; anything longer is a torn or corrupt length


@dataclass(frozen=True, slots=True)
class WalBlock:
    """A block this node built at ``height``: its header and body, as ``node.chain`` encodes them."""

    height: int
    header: bytes
    body: bytes


@dataclass(slots=True)
class WalContents:
    """What ``load`` read: the records in order, the blocks, and the bytes of torn tail cut off."""

    records: list[WalRecord] = field(default_factory=list)
    blocks: list[WalBlock] = field(default_factory=list)
    torn_bytes: int = 0


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + zlib.crc32(body).to_bytes(4, "big") + body


def _fsync_directory(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class ConsensusWal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    # -- writing ------------------------------------------------------------------------

    def append(self, record: WalRecord, *, sync: bool) -> None:
        """Append one record; ``sync``: fsync before returning (own messages, timeouts)."""
        self._write(bytes((TAG_RECORD,)) + encode_record(record), sync)

    def append_block(self, height: int, header: bytes, body: bytes) -> None:
        """Append (and fsync) a block this node built, before it is proposed."""
        self._write(bytes((TAG_BLOCK,)) + rlp.encode([height, header, body]), True)

    def end_height(self, height: int) -> None:
        """``height`` is committed: replace the log by one holding only ``EndHeight(height)``."""
        self.replace([EndHeight(height)])

    def replace(self, records: Iterable[WalRecord]) -> None:
        """Replace the log by one holding only ``records``, atomically and durably (a crash
        leaves the old log or the new one)."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(b"".join(_frame(bytes((TAG_RECORD,)) + encode_record(record)) for record in records))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_directory(self.path.parent)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, body: bytes, sync: bool) -> None:
        f = self._file
        if f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = self._file = open(self.path, "ab")
        f.write(_frame(body))
        f.flush()
        if sync:
            os.fsync(f.fileno())

    # -- reading ------------------------------------------------------------------------

    def load(self) -> WalContents:
        """Read every whole frame; cut off (and fsync away) a torn or corrupt tail."""
        self.close()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return WalContents()
        contents = WalContents()
        offset = 0
        while offset + FRAME_HEADER <= len(data):
            size = int.from_bytes(data[offset : offset + 4], "big")
            body = data[offset + FRAME_HEADER : offset + FRAME_HEADER + size]
            if (size == 0 or size > MAX_FRAME_BYTES or len(body) < size
                    or zlib.crc32(body) != int.from_bytes(data[offset + 4 : offset + 8], "big")):
                break
            try:
                self._decode_body(body, contents)
            except MalformedMessage:
                break
            offset += FRAME_HEADER + size
        if offset < len(data):
            contents.torn_bytes = len(data) - offset
            with open(self.path, "r+b") as f:
                f.truncate(offset)
                f.flush()
                os.fsync(f.fileno())
        return contents

    @staticmethod
    def _decode_body(body: bytes, contents: WalContents) -> None:
        """Raises: MalformedMessage."""
        tag, payload = body[0], body[1:]
        if tag == TAG_RECORD:
            contents.records.append(decode_record(payload))
            return
        if tag != TAG_BLOCK:
            raise MalformedMessage(f"WAL frame of unknown tag {tag}")
        try:
            height, header, block_body = rlp.decode(payload)
            block = WalBlock(big_endian_int.deserialize(height), bytes(header), bytes(block_body))
        except Exception:
            raise MalformedMessage("WAL block frame is not [height, header, body]") from None
        contents.blocks.append(block)


__all__ = ["ConsensusWal", "WalBlock", "WalContents"]
