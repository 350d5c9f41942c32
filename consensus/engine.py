"""The interface every consensus engine implements, and the seal carried beside each header.

An engine is chosen by the chain spec's ``consensus.engine`` (see ``consensus.registry``)
and has two faces:

- **validation** (pure, for every node, light clients included): ``validate_seal(header,
  seal)`` checks what the header and its seal alone prove; ``validate_header(header,
  parent, seal)`` adds the checks against the parent (as reth layers its consensus checks
  by the information available). Both raise ``ConsensusError`` (``InvalidSeal`` or a more
  precise subclass) with a ``reason``, never return False.
- **the sans-IO core**: ``handle(event) -> list[Effect]``. No clock (time enters as
  ``Tick`` or as the engine's own timeout events), no randomness, no I/O. A driver (the
  trio one in ``node/``, the simulator in ``consensus/sim``) performs the effects, in order.

Finality bookkeeping is shared: ``finalized_number``/``finalized_hash`` only move forward,
and ``is_final(number)`` answers for the canonical chain (a final block's ancestors are final).

**Headers keep Ethereum's layout.** Nothing consensus-specific goes into the header (its
``extra_data`` is at most 32 bytes). Instead a ``Seal`` is stored beside each block (as
Substrate stores justifications): it names the engine and the validator set, and its
signatures commit to ``header.hash``, so the header can never be re-sealed into another
block and the seal of one block never validates another. For ``poa`` the seal holds the
author's signature; for ``bft`` it holds the commit (>2/3 of voting power of precommits
for ``header.hash`` at ``header.number``), so anyone can check finality from blocks and
seals alone. The engine name and the validator set hash in the seal let a light client
follow a chain across an engine switch at a set height.

Common events and effects live here; an engine may add its own (``bft`` keeps
``ScheduleTimeout``/``RequestBlock``, ``poa`` adds ``ProposeBlock``/``Sealed``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import rlp
from rlp.sedes import big_endian_int

from consensus.errors import ConsensusError, MalformedMessage, OversizedMessage
from consensus.keys import SIGNATURE_SIZE, Signer
from consensus.types import ADDRESS_SIZE, ValidatorSet
from runtime.errors import InvalidChainSpec
from runtime.primitives.header import Header

HASH_SIZE = 32
MAX_SEAL_SIGNATURES = 1024  # a commit of the largest validator set we support
MAX_SEAL_BYTES = 16 + 64 + 8 + MAX_SEAL_SIGNATURES * (ADDRESS_SIZE + SIGNATURE_SIZE + 8)
MAX_ENGINE_NAME = 16


class InvalidSeal(ConsensusError):
    """A header whose seal does not prove what the engine requires."""


# --- the seal --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seal:
    """What an engine stores beside a header to prove it may be on the chain.

    Fields:
        engine: the engine's registry name (``"poa"``, ``"bft"``).
        validator_set_hash: ``ValidatorSet.compute_hash()`` of the set that sealed it.
        round: ``poa``: the slot; ``bft``: the round of the commit.
        signatures: ``(validator address, 65-byte signature)`` pairs, sorted by address,
            each over the engine's sign bytes, which include ``header.hash``.
    """

    engine: str
    validator_set_hash: bytes
    round: int
    signatures: tuple[tuple[bytes, bytes], ...]

    def encode(self) -> bytes:
        """Canonical RLP: ``[engine, validator_set_hash, round, [[address, signature], ...]]``."""
        return rlp.encode([self.engine.encode(), self.validator_set_hash, self.round,
                           [[a, s] for a, s in self.signatures]])

    @classmethod
    def decode(cls, data: bytes) -> Seal:
        """Raises: OversizedMessage, MalformedMessage (shape only; engines check the rest)."""
        if len(data) > MAX_SEAL_BYTES:
            raise OversizedMessage(len(data), MAX_SEAL_BYTES)
        try:
            items = rlp.decode(data)
        except Exception:
            raise MalformedMessage("seal is not an RLP encoding") from None
        if not isinstance(items, list) or len(items) != 4:
            raise MalformedMessage("seal is a list of 4 items")
        name, vsh, round_item, sigs = items
        if not isinstance(name, bytes) or not isinstance(vsh, bytes) or not isinstance(sigs, list):
            raise MalformedMessage("seal fields have the wrong shape")
        try:
            round_value = big_endian_int.deserialize(round_item)
            engine = name.decode("ascii")
        except Exception:
            raise MalformedMessage("seal round or engine name is not canonical") from None
        pairs = []
        for pair in sigs:
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(x, bytes) for x in pair)):
                raise MalformedMessage("seal signature is an [address, signature] pair")
            pairs.append((pair[0], pair[1]))
        seal = cls(engine, vsh, round_value, tuple(pairs))
        if seal.encode() != data:
            raise MalformedMessage("seal encoding is not canonical")
        return seal

    def validate_shape(self, engine: str, validator_set_hash: bytes) -> None:
        """Checks every engine makes first: name, set hash, sizes, sorted unique signers.

        Raises:
            InvalidSeal: with the reason.
        """
        if self.engine != engine:
            raise InvalidSeal(f"seal of engine {self.engine!r}, chain runs {engine!r}")
        if self.validator_set_hash != validator_set_hash:
            raise InvalidSeal("seal names another validator set")
        if not isinstance(self.round, int) or isinstance(self.round, bool) or self.round < 0:
            raise InvalidSeal("seal round out of range")
        if not self.signatures:
            raise InvalidSeal("seal has no signature")
        if len(self.signatures) > MAX_SEAL_SIGNATURES:
            raise InvalidSeal(f"seal has more than {MAX_SEAL_SIGNATURES} signatures")
        previous = b""
        for address, signature in self.signatures:
            if not isinstance(address, bytes) or len(address) != ADDRESS_SIZE:
                raise InvalidSeal(f"seal signer must be a {ADDRESS_SIZE}-byte address")
            if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
                raise InvalidSeal(f"seal signature must be {SIGNATURE_SIZE} bytes")
            if address <= previous:
                raise InvalidSeal("seal signers must be sorted by address, each once")
            previous = address


# --- common events and effects ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """The driver's clock: the only way wall time enters an engine (milliseconds since the epoch)."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class BlockImported:
    """The driver validated (``validate_header``), executed and stored this block with its seal."""

    header: Header
    seal: Seal | None


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Gossip a message this node signed (already persisted and counted by the core)."""

    message: Any


@dataclass(frozen=True, slots=True)
class PersistSignState:
    """Write ``engine.encode_sign_state(state)`` atomically and durably before the next effect."""

    state: Any


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """Misbehaviour any node can verify (``evidence.validate(chain_id, validators)``)."""

    evidence: Any


@dataclass(frozen=True, slots=True)
class Finalized:
    """Block ``block_hash`` at ``number`` (and every ancestor) is final; ``votes`` prove it.

    ``seal`` is set when the proof is the block's own seal (``bft``: the commit, to store
    beside the block); ``poa`` proves finality with its finality votes (a justification).
    """

    number: int
    block_hash: bytes
    votes: tuple[Any, ...]
    seal: Seal | None = None


# --- the engine ------------------------------------------------------------------------


class ConsensusEngine(ABC):
    """One consensus engine: header validation, finality bookkeeping and a sans-IO core."""

    name: ClassVar[str]
    # Whether each block carries its parent's commit (``consensus.block_data``).
    carries_last_commit: ClassVar[bool] = False

    chain_id: int
    validators: ValidatorSet
    signer: Signer | None

    def __init__(self, *, chain_id: int, validators: ValidatorSet, signer: Signer | None = None) -> None:
        self.chain_id = chain_id
        self.validators = validators
        self.signer = signer
        self.validator_set_hash = validators.compute_hash()
        self.finalized_number = 0  # genesis is final
        self.finalized_hash: bytes | None = None

    @classmethod
    @abstractmethod
    def from_spec(cls, section: Mapping[str, Any], *, chain_id: int, signer: Signer | None = None,
                  sign_state: bytes | None = None) -> ConsensusEngine:
        """Build the engine from the chain spec's ``consensus`` section.

        Raises:
            InvalidChainSpec: naming the field and the reason.
        """

    # -- validation ---------------------------------------------------------------------

    @abstractmethod
    def validate_seal(self, header: Header, seal: Seal | None) -> None:
        """Check what the header and its seal alone prove (signatures over ``header.hash``).

        Raises:
            InvalidSeal, ConsensusError: with the reason.
        """

    def validate_header(self, header: Header, parent: Header, seal: Seal | None) -> None:
        """Check the header against its parent, then its seal.

        Raises:
            InvalidSeal, ConsensusError: with the reason.
        """
        if header.parent_hash != parent.hash:
            raise InvalidSeal("header does not name its parent's hash")
        if header.number != parent.number + 1:
            raise InvalidSeal(f"header number {header.number} does not follow parent {parent.number}")
        if header.timestamp < parent.timestamp:
            raise InvalidSeal("header timestamp is before its parent's")
        self.validate_seal(header, seal)

    @property
    def is_validator(self) -> bool:
        """Whether this node signs for the chain (its key is in the validator set)."""
        return self.signer is not None and self.signer.address in self.validators

    # -- finality -----------------------------------------------------------------------

    def is_final(self, number: int) -> bool:
        """Whether the canonical block at ``number`` is final."""
        return number <= self.finalized_number

    def _process_finalized(self, number: int, block_hash: bytes) -> bool:
        """Move the finalized head forward; False (and no change) if it would not move."""
        if number <= self.finalized_number and self.finalized_hash is not None:
            return False
        self.finalized_number = number
        self.finalized_hash = block_hash
        return True

    # -- the core -----------------------------------------------------------------------

    @abstractmethod
    def handle(self, event: Any) -> list[Any]:
        """Apply one input; return the effects to perform, in order.

        Raises:
            ConsensusError: the input is dropped with a reason; the engine's state is untouched.
        """

    # -- never sign twice ---------------------------------------------------------------

    @property
    @abstractmethod
    def sign_state(self) -> Any:
        """What the engine last signed (the object ``PersistSignState`` carries)."""

    @abstractmethod
    def encode_sign_state(self, state: Any) -> bytes:
        """The bytes the driver persists for ``PersistSignState(state)``."""

    @classmethod
    @abstractmethod
    def decode_sign_state(cls, data: bytes) -> Any:
        """The sign state from persisted bytes (passed back through ``from_spec``)."""


def parse_spec_address(value: Any, where: str) -> bytes:
    """A 0x-prefixed 20-byte address from a chain spec.

    Raises:
        InvalidChainSpec: naming ``where``.
    """
    if not isinstance(value, str) or not value.lower().startswith("0x"):
        raise InvalidChainSpec(where, "expected a 0x-prefixed 20-byte address")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidChainSpec(where, f"not hex: {value!r}") from None
    if len(raw) != ADDRESS_SIZE:
        raise InvalidChainSpec(where, f"expected {ADDRESS_SIZE} bytes, got {len(raw)}")
    return raw


__all__ = [
    "BlockImported", "Broadcast", "ConsensusEngine", "Finalized", "InvalidSeal", "PersistSignState",
    "ReportEvidence", "Seal", "Tick", "parse_spec_address",
]
