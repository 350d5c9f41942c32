"""Errors of the peer-to-peer layer: expected failures carry the peer and a stable reason."""
from __future__ import annotations

from runtime.errors import ChainError


class NetworkError(Exception):
    """Base of the failures the network reports to its caller."""


class PeerMisbehaviour(ChainError):
    """A peer sent something no honest peer sends.

    Raised inside the network (and by a request handler the node supplies) to make the
    network lower the peer's score; ``reason`` is a short snake_case label that also names
    the Prometheus counter child (keep it low-cardinality).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class FrameError(PeerMisbehaviour):
    """A length-prefixed frame announced more bytes than the protocol allows."""


class StreamEnded(NetworkError):
    """The stream ended inside a frame: the peer went away (not misbehaviour by itself)."""


class MessageTooLarge(NetworkError):
    """Our own node tried to send more bytes than the protocol allows."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what}: {size} bytes, limit {limit}")
        self.what = what
        self.size = size
        self.limit = limit


class RequestError(NetworkError):
    """A request to a peer failed; ``reason`` says why (snake_case)."""

    def __init__(self, peer_id: str, reason: str, detail: str = "") -> None:
        super().__init__(f"request to {peer_id} failed: {reason}" + (f": {detail}" if detail else ""))
        self.peer_id = peer_id
        self.reason = reason
        self.detail = detail


class RequestTimeout(RequestError):
    """The peer did not answer in time."""

    def __init__(self, peer_id: str, timeout: float) -> None:
        super().__init__(peer_id, "timeout", f"no answer in {timeout:g} s")
        self.timeout = timeout


class RemoteError(RequestError):
    """The peer answered that its handler failed (not misbehaviour: no score lost)."""
