"""The node's network identity: an ed25519 key kept in the data directory, and its peer id.

The key lives in ``<datadir>/network/nodekey`` as the 64 hex digits of its 32-byte seed,
readable by its owner only (0600). It is created on first start and reused afterwards, so
the peer id (and the multiaddr that bootnode lists name) stays the same across restarts.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

log = structlog.get_logger(__name__)

NODEKEY_RELATIVE_PATH = Path("network") / "nodekey"


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    key_pair: KeyPair
    peer_id: ID

    @classmethod
    def from_seed(cls, seed: bytes) -> NodeIdentity:
        if len(seed) != 32:
            raise ValueError(f"node key seed must be 32 bytes, got {len(seed)}")
        key_pair = create_new_key_pair(seed)
        return cls(key_pair, ID.from_pubkey(key_pair.public_key))

    @classmethod
    def generate(cls) -> NodeIdentity:
        key_pair = create_new_key_pair()
        return cls(key_pair, ID.from_pubkey(key_pair.public_key))

    @property
    def seed(self) -> bytes:
        return self.key_pair.private_key.to_bytes()

    def multiaddr(self, port: int, host: str = "127.0.0.1") -> str:
        """The address other nodes dial: ``/ip4/HOST/tcp/PORT/p2p/<peer id>``."""
        return f"/ip4/{host}/tcp/{port}/p2p/{self.peer_id.to_base58()}"


def load_or_create_identity(datadir: str | os.PathLike[str]) -> NodeIdentity:
    """Load ``<datadir>/network/nodekey``, creating it (0600) on first start.

    Raises:
        ValueError: the file exists but does not hold a 32-byte hex seed.
    """
    path = Path(datadir) / NODEKEY_RELATIVE_PATH
    if path.exists():
        return _load(path)
    identity = NodeIdentity.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, identity.seed.hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)  # a crash leaves either no key or a whole one
    log.info("nodekey_created", path=str(path), peer=identity.peer_id.to_base58())
    return identity


def _load(path: Path) -> NodeIdentity:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("nodekey_permissions_too_open", path=str(path), mode=oct(mode))
    text = path.read_text().strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path}: not a hex node key") from None
    return NodeIdentity.from_seed(seed)
