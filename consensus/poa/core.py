"""Aura-style proof of authority with GRANDPA-like finality votes, as a sans-IO core.

**Slots.** Time is cut into slots of ``slot_duration`` seconds: ``slot = timestamp //
slot_duration``. The authorities, in address order (as ``ValidatorSet`` iterates them,
whatever order the spec lists them), take slots in turn: ``author = authorities[slot mod
n]``. A header is valid only if sealed by its slot's author, in a slot after its parent's.

**Fork choice.** The longest chain that contains the finalized head; ties go to the lower
block hash (``choose_head``).

**Finality votes.** Each authority signs ``FinalityVote(number, block_hash)`` for the
blocks of its best chain as it imports them; a block with votes from more than 2/3 of the
authorities is final, and so are its ancestors. An honest authority votes at strictly
increasing numbers, and only for blocks that extend its previous vote — unless a final
block conflicting with that vote is known (then its old vote can never be final, and
voting on is safe). Hence two conflicting blocks can both be final only if more than 1/3
of the authorities signed conflicting votes, which ``DoubleFinalityVote`` or the
extension rule exposes. Known limit (no rounds, unlike GRANDPA): if votes split across
two forks with neither side above 2/3, finality stalls until an authority set change;
blocks are still produced. See the module ``consensus.poa`` for the driver contract.

**Never sign twice.** ``PoaSignState`` records the last sealed slot and the last vote;
the core refuses to seal a slot at or before the last sealed one, or to vote at a number
at or below the last voted one, and emits ``PersistSignState`` before the effect carrying
what it signed. A core restarted from the persisted state therefore never double-signs.

Time enters only through ``Tick(now_ms)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, Union

import rlp
import structlog
from rlp.sedes import big_endian_int

from consensus.engine import (
    BlockImported,
    Broadcast,
    ConsensusEngine,
    Finalized,
    InvalidSeal,
    PersistSignState,
    ReportEvidence,
    Seal,
    Tick,
    parse_spec_address,
)
from consensus.errors import ConsensusError, MalformedMessage
from consensus.keys import Signer
from consensus.poa.evidence import DoubleFinalityVote, DoubleSeal
from consensus.poa.messages import FinalityVote, SlotSeal, validate_finality_vote
from consensus.types import Validator, ValidatorSet
from runtime.errors import InvalidChainSpec
from runtime.primitives.header import Header

log = structlog.get_logger(__name__)

ENGINE_NAME = "poa"
DEFAULT_SLOT_DURATION_S = 2
MAX_VOTE_LOOKAHEAD = 1024  # votes further above the finalized head are dropped (bounded memory)


class WrongAuthor(InvalidSeal):
    """A header sealed by someone other than its slot's author."""

    def __init__(self, author: bytes, expected: bytes, slot: int) -> None:
        super().__init__(f"sealed by 0x{author.hex()}, slot {slot} belongs to 0x{expected.hex()}")
        self.author = author
        self.expected = expected
        self.slot = slot


class WrongSlot(InvalidSeal):
    """A seal for another slot than the header's timestamp, or a slot not after the parent's."""


# --- pure functions --------------------------------------------------------------------


def compute_slot(timestamp: int, slot_duration: int) -> int:
    """The slot of a timestamp (both in seconds)."""
    return timestamp // slot_duration


def compute_slot_author(slot: int, authorities: Sequence[bytes]) -> bytes:
    """The authority that may seal ``slot``: round-robin over the authorities."""
    return authorities[slot % len(authorities)]


def compute_slot_seal(header: Header, seal: Seal) -> SlotSeal:
    """The signed statement a PoA seal carries (the seal must have one signature)."""
    if len(seal.signatures) != 1:
        raise InvalidSeal("a poa seal has exactly one signature")
    author, signature = seal.signatures[0]
    return SlotSeal(header.number, seal.round, header.hash, seal.validator_set_hash, author, signature)


def seal_header(header: Header, signer: Signer, *, chain_id: int, validators: ValidatorSet,
                slot_duration: int) -> Seal:
    """``signer``'s seal of ``header`` in the slot of its timestamp (no sign guard: see ``PoaCore``)."""
    slot = compute_slot(header.timestamp, slot_duration)
    vsh = validators.compute_hash()
    signed = SlotSeal(header.number, slot, header.hash, vsh, signer.address).sign(signer, chain_id)
    return Seal(ENGINE_NAME, vsh, slot, ((signer.address, signed.signature),))


def compute_ancestor_hash(header: Header, number: int, headers: Mapping[bytes, Header]) -> bytes | None:
    """The hash of ``header``'s ancestor at ``number`` (itself at its own), None if not in ``headers``."""
    if number > header.number:
        return None
    current = header
    while current.number > number:
        parent = headers.get(current.parent_hash)
        if parent is None:
            return None
        current = parent
    return current.hash


def choose_head(candidates: Iterable[Header], finalized: Header, *, headers: Mapping[bytes, Header]) -> Header:
    """The longest candidate chain containing ``finalized``; ties go to the lower hash.

    ``headers`` resolves parents (it must hold every block between a candidate and the
    finalized head). Returns ``finalized`` when no candidate extends it.
    """
    for candidate in sorted(candidates, key=lambda h: (-h.number, h.hash)):
        if candidate.number < finalized.number:
            break
        if compute_ancestor_hash(candidate, finalized.number, headers) == finalized.hash:
            return candidate
    return finalized


# --- sign state ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoaSignState:
    """What this authority last signed: the last sealed slot and its last finality vote."""

    last_sealed_slot: int = -1
    last_vote_number: int = -1
    last_vote_hash: bytes = b""

    def encode(self) -> bytes:
        return rlp.encode([self.last_sealed_slot + 1, self.last_vote_number + 1, self.last_vote_hash])

    @classmethod
    def decode(cls, data: bytes) -> PoaSignState:
        """Raises: MalformedMessage."""
        try:
            slot, number, block_hash = rlp.decode(data)
            return cls(big_endian_int.deserialize(slot) - 1, big_endian_int.deserialize(number) - 1,
                       bytes(block_hash))
        except Exception:
            raise MalformedMessage("not a poa sign state") from None


# --- events and effects ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """Begin from the node's finalized block (genesis on first start). Feed it once, first."""

    finalized: Header


@dataclass(frozen=True, slots=True)
class BlockReady:
    """The driver's answer to ``ProposeBlock``: the header of the block it built (unsealed)."""

    header: Header


@dataclass(frozen=True, slots=True)
class FinalityVoteReceived:
    vote: FinalityVote


Event = Union[Start, Tick, BlockImported, BlockReady, FinalityVoteReceived]


@dataclass(frozen=True, slots=True)
class ProposeBlock:
    """This node authors ``slot``: build block ``number`` on ``parent_hash`` at ``timestamp``, answer ``BlockReady``."""

    slot: int
    parent_hash: bytes
    number: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Sealed:
    """A header this node sealed: store the block with ``seal``, gossip it, feed ``BlockImported``."""

    header: Header
    seal: Seal


Effect = Union[ProposeBlock, Sealed, Broadcast, PersistSignState, ReportEvidence, Finalized]


# --- the core --------------------------------------------------------------------------


class PoaCore(ConsensusEngine):
    """One node's PoA engine: slot authoring, block tree, fork choice and finality votes."""

    name = ENGINE_NAME

    def __init__(self, *, chain_id: int, authorities: Sequence[bytes], slot_duration: int = DEFAULT_SLOT_DURATION_S,
                 signer: Signer | None = None, sign_state: PoaSignState | None = None) -> None:
        if not isinstance(slot_duration, int) or isinstance(slot_duration, bool) or slot_duration <= 0:
            raise ValueError("slot duration must be a positive number of seconds")
        super().__init__(chain_id=chain_id, validators=ValidatorSet([Validator(a, 1) for a in authorities]),
                         signer=signer)
        self.authorities: tuple[bytes, ...] = tuple(v.address for v in self.validators)
        self.slot_duration = slot_duration
        self._sign_state = sign_state or PoaSignState()
        self._root: Header | None = None  # the finalized head
        self._headers: dict[bytes, Header] = {}
        self._seals: dict[bytes, Seal] = {}
        self._dead_vote = False  # our last vote was pruned as conflicting with a final block
        self._slot_seals: dict[tuple[bytes, int], SlotSeal] = {}
        self._votes: dict[tuple[int, bytes], dict[bytes, FinalityVote]] = {}
        self._vote_by: dict[tuple[bytes, int], FinalityVote] = {}
        self._reported: set[bytes] = set()
        self._tick_slot = -1
        self._effects: list[Any] = []

    @classmethod
    def from_spec(cls, section: Mapping[str, Any], *, chain_id: int, signer: Signer | None = None,
                  sign_state: bytes | None = None) -> PoaCore:
        """``{"engine": "poa", "authorities": ["0x…", …], "slotDuration": seconds}``."""
        authorities = section.get("authorities")
        if not isinstance(authorities, list) or not authorities:
            raise InvalidChainSpec("consensus.authorities", "expected a non-empty list of addresses")
        addresses = [parse_spec_address(a, f"consensus.authorities[{i}]") for i, a in enumerate(authorities)]
        if len(set(addresses)) != len(addresses):
            raise InvalidChainSpec("consensus.authorities", "duplicate authority")
        duration = section.get("slotDuration", DEFAULT_SLOT_DURATION_S)
        if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
            raise InvalidChainSpec("consensus.slotDuration", "expected a whole number of seconds > 0")
        state = None if sign_state is None else PoaSignState.decode(sign_state)
        return cls(chain_id=chain_id, authorities=addresses, slot_duration=duration, signer=signer,
                   sign_state=state)

    # -- read-only ----------------------------------------------------------------------

    @property
    def sign_state(self) -> PoaSignState:
        return self._sign_state

    def encode_sign_state(self, state: PoaSignState) -> bytes:
        return state.encode()

    @classmethod
    def decode_sign_state(cls, data: bytes) -> PoaSignState:
        return PoaSignState.decode(data)

    @property
    def is_authority(self) -> bool:
        return self.signer is not None and self.signer.address in self.validators

    def get_head(self) -> Header:
        """The head by fork choice (the finalized head before any block is imported)."""
        if self._root is None:
            raise ConsensusError("engine not started")
        return choose_head(self._headers.values(), self._root, headers=self._headers)

    def get_header(self, block_hash: bytes) -> Header | None:
        return self._headers.get(block_hash)

    def get_votes(self, number: int, block_hash: bytes) -> tuple[FinalityVote, ...]:
        return tuple(sorted(self._votes.get((number, block_hash), {}).values(), key=lambda v: v.validator))

    def compute_slot_author(self, slot: int) -> bytes:
        return compute_slot_author(slot, self.authorities)

    # -- validation ---------------------------------------------------------------------

    def validate_seal(self, header: Header, seal: Seal | None) -> None:
        """The seal is the slot author's signature over this header, in the header's slot.

        Raises:
            InvalidSeal, WrongSlot, WrongAuthor: with the reason.
        """
        if seal is None:
            raise InvalidSeal("a poa header needs a seal")
        seal.validate_shape(self.name, self.validator_set_hash)
        slot = compute_slot(header.timestamp, self.slot_duration)
        if seal.round != slot:
            raise WrongSlot(f"seal for slot {seal.round}, header timestamp is in slot {slot}")
        signed = compute_slot_seal(header, seal)
        expected = self.compute_slot_author(slot)
        if signed.author != expected:
            raise WrongAuthor(signed.author, expected, slot)
        try:
            signer = signed.recover_signer(self.chain_id)
        except ConsensusError as exc:
            raise InvalidSeal(f"bad seal signature: {exc.reason}") from None
        if signer != signed.author:
            raise InvalidSeal(f"seal is not signed by 0x{signed.author.hex()}")

    def validate_header(self, header: Header, parent: Header, seal: Seal | None) -> None:
        """Parent checks, a slot after the parent's, then the seal.

        Raises:
            InvalidSeal, WrongSlot, WrongAuthor: with the reason.
        """
        slot = compute_slot(header.timestamp, self.slot_duration)
        parent_slot = compute_slot(parent.timestamp, self.slot_duration)
        if header.number == parent.number + 1 and header.parent_hash == parent.hash and slot <= parent_slot:
            raise WrongSlot(f"slot {slot} is not after the parent's slot {parent_slot}")
        super().validate_header(header, parent, seal)

    # -- the core -----------------------------------------------------------------------

    def handle(self, event: Event) -> list[Effect]:
        """Apply one input; return the effects to perform, in order.

        Raises:
            ConsensusError: the input is dropped with a reason; the state is untouched.
        """
        self._effects = []
        if isinstance(event, Start):
            self._on_start(event.finalized)
        elif self._root is None:
            raise ConsensusError("engine not started")
        elif isinstance(event, Tick):
            self._on_tick(event.now_ms)
        elif isinstance(event, BlockImported):
            self._on_block_imported(event.header, event.seal)
        elif isinstance(event, FinalityVoteReceived):
            self._on_vote(event.vote)
        elif isinstance(event, BlockReady):
            self._on_block_ready(event.header)
        else:
            raise TypeError(f"not a poa event: {event!r}")
        effects, self._effects = self._effects, []
        return effects

    def _on_start(self, finalized: Header) -> None:
        if self._root is not None:
            return
        self._root = finalized
        self._headers = {finalized.hash: finalized}
        self.finalized_number = finalized.number
        self.finalized_hash = finalized.hash

    def _on_tick(self, now_ms: int) -> None:
        slot = now_ms // (self.slot_duration * 1000)
        if slot <= self._tick_slot:
            return
        self._tick_slot = slot
        if not self.is_authority or self.compute_slot_author(slot) != self.signer.address:
            return
        if slot <= self._sign_state.last_sealed_slot:
            log.warning("seal_refused", slot=slot, last_sealed_slot=self._sign_state.last_sealed_slot)
            return
        head = self.get_head()
        if compute_slot(head.timestamp, self.slot_duration) >= slot:
            return  # the head is from this slot or later (a clock behind the chain's)
        self._effects.append(ProposeBlock(slot, head.hash, head.number + 1, slot * self.slot_duration))

    def _on_block_ready(self, header: Header) -> None:
        slot = compute_slot(header.timestamp, self.slot_duration)
        if slot != self._tick_slot or not self.is_authority:
            log.info("block_ready_stale", slot=slot, current_slot=self._tick_slot)
            return
        if slot <= self._sign_state.last_sealed_slot:
            log.warning("seal_refused", slot=slot, last_sealed_slot=self._sign_state.last_sealed_slot)
            return
        parent = self._headers.get(header.parent_hash)
        if parent is None:
            raise ConsensusError("block built on an unknown or pruned parent")
        assert self.signer is not None
        seal = seal_header(header, self.signer, chain_id=self.chain_id, validators=self.validators,
                           slot_duration=self.slot_duration)
        self.validate_header(header, parent, seal)  # our own block obeys the rules, or is not sealed
        self._sign_state = PoaSignState(slot, self._sign_state.last_vote_number, self._sign_state.last_vote_hash)
        self._effects.append(PersistSignState(self._sign_state))
        self._effects.append(Sealed(header, seal))

    def _on_block_imported(self, header: Header, seal: Seal | None) -> None:
        if header.hash in self._headers:
            return
        parent = self._headers.get(header.parent_hash)
        if parent is None:
            raise ConsensusError("block on an unknown parent, or on a fork below the finalized head")
        self.validate_header(header, parent, seal)
        assert seal is not None
        signed = compute_slot_seal(header, seal)
        key = (signed.author, signed.slot)
        first = self._slot_seals.get(key)
        if first is None:
            self._slot_seals[key] = signed
        elif first.block_hash != signed.block_hash:
            self._report(DoubleSeal.from_seals(first, signed))
        self._headers[header.hash] = header
        self._seals[header.hash] = seal
        self._try_finalize(header.number, header.hash)
        self._vote_best_chain()

    def _on_vote(self, vote: FinalityVote) -> None:
        validate_finality_vote(vote, chain_id=self.chain_id, validators=self.validators)
        if vote.number <= self.finalized_number:
            return  # stale
        if vote.number > self.finalized_number + MAX_VOTE_LOOKAHEAD:
            raise ConsensusError(f"finality vote for {vote.number}, more than {MAX_VOTE_LOOKAHEAD} "
                                 f"above the finalized block {self.finalized_number}")
        existing = self._vote_by.get((vote.validator, vote.number))
        if existing is not None:
            if existing.block_hash != vote.block_hash:
                self._report(DoubleFinalityVote.from_votes(existing, vote))
            return  # the first vote counts
        self._add_vote(vote)
        if self._try_finalize(vote.number, vote.block_hash):
            self._vote_best_chain()

    # -- helpers ------------------------------------------------------------------------

    def _report(self, evidence: DoubleSeal | DoubleFinalityVote) -> None:
        key = evidence.compute_hash()
        if key not in self._reported:
            self._reported.add(key)
            log.warning("double_sign_detected", validator="0x" + evidence.validator.hex(), height=evidence.height)
            self._effects.append(ReportEvidence(evidence))

    def _add_vote(self, vote: FinalityVote) -> None:
        self._vote_by[(vote.validator, vote.number)] = vote
        self._votes.setdefault((vote.number, vote.block_hash), {})[vote.validator] = vote

    def _try_finalize(self, number: int, block_hash: bytes) -> bool:
        votes = self._votes.get((number, block_hash))
        if not votes or not self.validators.has_quorum(len(votes)) or number <= self.finalized_number:
            return False
        header = self._headers.get(block_hash)
        if header is None:
            return False  # votes before the block: finalize when it is imported
        assert self._root is not None
        if compute_ancestor_hash(header, self._root.number, self._headers) != self._root.hash:
            # More than 1/3 of the authorities voted against finality: never follow it.
            log.error("conflicting_finality", height=number, block="0x" + block_hash.hex())
            return False
        self._root = header
        self._process_finalized(number, block_hash)
        self._effects.append(Finalized(number, block_hash, self.get_votes(number, block_hash)))
        log.info("finalized", height=number, block="0x" + block_hash.hex(), votes=len(votes))
        self._prune()
        return True

    def _prune(self) -> None:
        """Forget forks of the finalized chain, blocks below it, and settled votes and seals."""
        root = self._root
        assert root is not None
        self._headers = {h: hd for h, hd in self._headers.items()
                         if hd.number >= root.number
                         and compute_ancestor_hash(hd, root.number, self._headers) == root.hash}
        self._seals = {h: s for h, s in self._seals.items() if h in self._headers}
        last = self._sign_state
        if last.last_vote_number > root.number and last.last_vote_hash not in self._headers:
            self._dead_vote = True
        self._votes = {k: v for k, v in self._votes.items() if k[0] > root.number}
        self._vote_by = {k: v for k, v in self._vote_by.items() if k[1] > root.number}
        root_slot = compute_slot(root.timestamp, self.slot_duration)
        self._slot_seals = {k: v for k, v in self._slot_seals.items() if k[1] >= root_slot}

    def _may_vote_on(self, header: Header) -> bool:
        """The extension rule: ``header`` extends our last vote, or that vote conflicts with finality."""
        state = self._sign_state
        if state.last_vote_number < 0:
            return True
        if state.last_vote_number <= self.finalized_number:
            # Our last vote is on the finalized chain or conflicts with it: either way safe.
            return True
        if state.last_vote_hash not in self._headers:
            # Pruned as a fork of a final block: it can never be final, so voting on is safe.
            # Unknown for another reason (a restart that did not re-import it): stay put.
            return self._dead_vote
        return compute_ancestor_hash(header, state.last_vote_number, self._headers) == state.last_vote_hash

    def _vote_best_chain(self) -> None:
        """Vote for each block of the best chain above our last vote (and the finalized head)."""
        if not self.is_authority:
            return
        assert self.signer is not None
        head = self.get_head()
        floor = max(self._sign_state.last_vote_number, self.finalized_number)
        if head.number <= floor or not self._may_vote_on(head):
            return
        chain: list[Header] = []
        current = head
        while current.number > floor:
            chain.append(current)
            current = self._headers[current.parent_hash]
        chain.reverse()
        votes = [FinalityVote(h.number, h.hash, self.signer.address).sign(self.signer, self.chain_id) for h in chain]
        last = votes[-1]
        self._sign_state = PoaSignState(self._sign_state.last_sealed_slot, last.number, last.block_hash)
        self._dead_vote = False
        self._effects.append(PersistSignState(self._sign_state))
        for vote in votes:
            self._effects.append(Broadcast(vote))
        for vote in votes:
            if (vote.validator, vote.number) not in self._vote_by:
                self._add_vote(vote)
                self._try_finalize(vote.number, vote.block_hash)


__all__ = [
    "BlockReady", "Effect", "Event", "FinalityVoteReceived", "PoaCore", "PoaSignState", "ProposeBlock",
    "Sealed", "Start", "WrongAuthor", "WrongSlot", "choose_head", "compute_ancestor_hash", "compute_slot",
    "compute_slot_author", "compute_slot_seal", "seal_header",
]
