"""Length-prefixed frames on a libp2p stream: a 4-byte big-endian length, then the bytes.

``stream.read(n)`` returns whatever the muxer has buffered, up to ``n`` bytes, so every
read loops until it has the whole frame. The length is checked against the caller's limit
before a byte of the body is read.
"""
from __future__ import annotations

import struct
from typing import Final, Protocol

import trio

from network.errors import FrameError, MessageTooLarge, StreamEnded

LENGTH_PREFIX: Final = struct.Struct(">I")
READ_CHUNK_BYTES: Final = 256 * 1024
CLOSE_TIMEOUT_S: Final = 1.0


class ReadableStream(Protocol):
    async def read(self, n: int | None = None) -> bytes: ...


class WritableStream(Protocol):
    async def write(self, data: bytes) -> None: ...


class ClosableStream(Protocol):
    async def close(self) -> None: ...

    async def reset(self) -> None: ...


async def read_exactly(stream: ReadableStream, n: int) -> bytes:
    """Read exactly ``n`` bytes.

    Raises:
        StreamEnded: the stream ended first.
        libp2p StreamError subclasses: the stream was reset.
    """
    if n == 0:
        return b""
    first = await _read_some(stream, n)
    if len(first) == n:
        return first
    buf = bytearray(first)
    while len(buf) < n:
        buf += await _read_some(stream, min(n - len(buf), READ_CHUNK_BYTES))
    return bytes(buf)


async def _read_some(stream: ReadableStream, n: int) -> bytes:
    try:
        chunk = await stream.read(n)
    except EOFError:  # libp2p's StreamEOF is an EOFError
        chunk = b""
    if not chunk:
        raise StreamEnded("stream ended inside a frame")
    return chunk


async def read_frame(stream: ReadableStream, max_bytes: int) -> bytes:
    """Read one frame of at most ``max_bytes``.

    Raises:
        FrameError: ``oversized_frame``, before the body is read.
        StreamEnded: the stream ended inside the frame.
    """
    (length,) = LENGTH_PREFIX.unpack(await read_exactly(stream, LENGTH_PREFIX.size))
    if length > max_bytes:
        raise FrameError("oversized_frame", f"{length} bytes, limit {max_bytes}")
    return await read_exactly(stream, length)


def encode_frame(data: bytes, max_bytes: int, what: str = "frame") -> bytes:
    """Prefix ``data`` with its length.

    Raises:
        MessageTooLarge: our own ``data`` is over the limit the peer will enforce.
    """
    if len(data) > max_bytes:
        raise MessageTooLarge(what, len(data), max_bytes)
    return LENGTH_PREFIX.pack(len(data)) + data


async def write_frame(stream: WritableStream, data: bytes, max_bytes: int, what: str = "frame") -> None:
    await stream.write(encode_frame(data, max_bytes, what))


async def close_stream(stream: ClosableStream, *, reset: bool = False) -> None:
    """Close (or reset) a stream without raising, even from a cancelled scope."""
    with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        try:
            if reset:
                await stream.reset()
            else:
                await stream.close()
        except Exception:
            pass
