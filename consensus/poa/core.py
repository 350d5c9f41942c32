"""Aura-style proof of authority with Casper-FFG finality votes, as a sans-IO core.

**Slots.** Time is cut into slots of ``slot_duration`` seconds: ``slot = timestamp //
slot_duration``. The authorities, in address order (as ``ValidatorSet`` iterates them,
whatever order the spec lists them), take slots in turn: ``author = authorities[slot mod
n]``. A header is valid only if sealed by its slot's author, in a slot after its parent's.

**Finality (Casper FFG, every block number a checkpoint).** A finality vote is a link
``FinalityVote(source_number, source_hash, target_number, target_hash)`` from a justified
block to a descendant. The finalized root (genesis on first start) is justified; a block T
is justified when more than 2/3 of the authorities signed one link S→T with S justified;
a justified S is final when more than 2/3 signed a link S→C to a child C of S, and a final
block's ancestors are final (``consensus.poa.finality``). A link whose source lies below
this node's root counts as from a justified source when its target descends from the root:
honest authorities sign only justified sources, and so a proof from a peer that finalized
in other steps (or from before a restart) still links up with the root.

**Honest voting.** When the head moves to a block above its last target, an authority
votes with source = the highest justified block it knows (the head's chain holds it, by
fork choice) and target = the head. Its sources never go down and its targets always go
up, so it never signs two links with one target number (a *double vote*) nor a link that
surrounds another of its own (s1 < s2 < t2 < t1, a *surround vote*). ``PoaSignState``
persists the last sealed slot and the last source and target numbers; a restarted
authority that knows no justified block at or above its last source (it knows its root
only) waits until it learns one, else it could surround its own earlier vote.

**Fork choice.** The longest chain containing the highest justified block (which contains
the finalized root); ties go to the lower block hash (``choose_head``). Blocks are
authored on it.

**Safety (accountable).** Two conflicting final blocks imply that more than 1/3 of the
authorities signed a double or a surround vote (``DoubleFinalityVote``, ``SurroundVote``;
any node can check them). Say A (number a) and B (number b ≥ a) are final and conflict.
A has >2/3 on a link into it and on the link a→a+1. Walk B's justification chain down from
B: each step is a link with >2/3 behind it, and the walk ends below a (at the root it
started from). So some link of it targets number a or a+1 — a block other than A or A's
child: two quorums share more than 1/3 of the authorities, who double voted — or jumps
over both (source < a < a+1 < target): those who signed it and A's finalizing link
surrounded. Where the walk stops early at a source counted only because it lies below a
node's root R (above a), R is final, on B's chain, and conflicts with A: the pair (A, R)
was final earlier, and the argument applies to it.

**Liveness.** Honest votes split across two forks at one number justify neither, and
nothing binds a voter to its fork: when the next block comes on the fork-choice head, every
authority votes again at that higher target, from the same justified source. The same link
from more than 2/3 justifies it, and the next block's link (from it to its child)
finalizes it. An equivocating author (two blocks in its slot) splits one target only.
Voters must agree on the source too, so justifications must reach everyone: a byzantine
authority may show its votes to some nodes only. A node whose finality stalls gossips
``get_justification()``, and a peer takes it (or a proof) as a whole
(``JustificationReceived``): there an equivocator's other vote still counts toward a link
with more than 2/3 inside it, though one by one only its first vote per target counts.
With blocks every slot, a block is final about one slot after it is sealed (its child's
link finalizes it).

**Proofs.** ``Finalized(number, block_hash, votes)`` carries the votes of the supermajority
links from the previously finalized root up to the block, then of the finalizing link to
its child, in target order; ``validate_finality_proof`` checks them without the core.

**Never sign twice.** The core refuses to seal a slot at or before the last sealed one,
or to vote against its persisted sign state, and emits ``PersistSignState`` before the
effect carrying what it signed. Memory is bounded: blocks, justifications and votes below
the finalized root are forgotten, votes more than ``MAX_VOTE_LOOKAHEAD`` above it are
refused, one vote per authority and target number is held (a second one is evidence),
and an equivocator's other votes are kept only for links that more than 2/3 signed (which
takes honest votes). Bad votes (bad signature, unknown authority, malformed, target not
above source, contradicting the blocks held, too far ahead) raise ``ConsensusError``.
See the module ``consensus.poa`` for the driver contract.

Time enters only through ``Tick(now_ms)``.
"""
from __future__ import annotations

import dataclasses
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
from consensus.poa.evidence import DoubleFinalityVote, DoubleSeal, SurroundVote
from consensus.poa.finality import MAX_PROOF_LINKS, Link, compute_ancestor_hash, compute_links
from consensus.poa.messages import FinalityVote, SlotSeal, validate_finality_vote
from consensus.types import Validator, ValidatorSet
from runtime.errors import InvalidChainSpec
from runtime.primitives.header import Header

log = structlog.get_logger(__name__)

ENGINE_NAME = "poa"
DEFAULT_SLOT_DURATION_S = 2
MAX_VOTE_LOOKAHEAD = 1024  # votes with a target further above the finalized root are refused (bounded memory)


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


def choose_head(candidates: Iterable[Header], justified: Header, *, headers: Mapping[bytes, Header]) -> Header:
    """The longest candidate chain containing ``justified``; ties go to the lower hash.

    ``justified`` is the highest justified block (which descends from the finalized root).
    ``headers`` resolves parents (it must hold every block between a candidate and
    ``justified``). Returns ``justified`` when no candidate extends it.
    """
    for candidate in sorted(candidates, key=lambda h: (-h.number, h.hash)):
        if candidate.number < justified.number:
            break
        if compute_ancestor_hash(candidate, justified.number, headers) == justified.hash:
            return candidate
    return justified


# --- sign state ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoaSignState:
    """What this authority last signed: its last sealed slot and its last finality link.

    ``last_target_hash`` is kept for diagnostics; the guard needs the numbers only.
    """

    last_sealed_slot: int = -1
    last_target_number: int = -1
    last_target_hash: bytes = b""
    last_source_number: int = -1

    def encode(self) -> bytes:
        return rlp.encode([self.last_sealed_slot + 1, self.last_target_number + 1, self.last_target_hash,
                           self.last_source_number + 1])

    @classmethod
    def decode(cls, data: bytes) -> PoaSignState:
        """The state from ``encode``; a pre-FFG state (3 items: slot, voted number, hash) reads
        as a last target with no source (its votes were of another kind: nothing to surround).

        Raises: MalformedMessage.
        """
        try:
            items = rlp.decode(data)
            if len(items) == 3:
                items = [*items, b""]
            slot, target, target_hash, source = items
            if not isinstance(target_hash, bytes):
                raise ValueError
            return cls(big_endian_int.deserialize(slot) - 1, big_endian_int.deserialize(target) - 1,
                       bytes(target_hash), big_endian_int.deserialize(source) - 1)
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


@dataclass(frozen=True, slots=True)
class JustificationReceived:
    """Votes a peer sent as a whole: a ``Finalized`` proof, or its ``get_justification()``.

    Taken as a unit: a vote that doubles or surrounds one already held (an equivocator's
    other vote) still counts toward a link that has more than 2/3 within the unit, so a node
    that saw the equivocator's first vote can still follow the peer's finality.
    """

    votes: tuple[FinalityVote, ...]


Event = Union[Start, Tick, BlockImported, BlockReady, FinalityVoteReceived, JustificationReceived]


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
    """One node's PoA engine: slot authoring, block tree, fork choice and FFG finality votes."""

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
        self._root: Header | None = None  # the finalized root
        self._headers: dict[bytes, Header] = {}  # the root and its descendants
        self._seals: dict[bytes, Seal] = {}
        self._slot_seals: dict[tuple[bytes, int], SlotSeal] = {}
        # Justified blocks (the root and descendants) -> the first link that justified them (None: the root).
        self._justified: dict[bytes, Link | None] = {}
        self._links: dict[Link, dict[bytes, FinalityVote]] = {}  # link -> validator -> vote
        self._links_from: dict[bytes, set[Link]] = {}  # source hash -> links (checked when it is justified)
        self._links_to: dict[bytes, set[Link]] = {}  # target hash -> links (checked when the block comes)
        self._held: dict[bytes, dict[int, FinalityVote]] = {}  # validator -> target number -> first vote
        self._reported: set[bytes] = set()
        self._head: Header | None = None  # fork choice, cached until a block or a justification changes it
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
        """The head by fork choice (the finalized root before any block is imported)."""
        if self._root is None:
            raise ConsensusError("engine not started")
        if self._head is None:
            self._head = choose_head(self._headers.values(), self.get_justified(), headers=self._headers)
        return self._head

    def get_justified(self) -> Header:
        """The highest justified block this node knows (ties: the lower hash); the root at least."""
        if self._root is None:
            raise ConsensusError("engine not started")
        best = self._root
        for block_hash in self._justified:
            header = self._headers[block_hash]
            if (header.number, best.hash) > (best.number, header.hash):
                best = header
        return best

    def is_justified(self, block_hash: bytes) -> bool:
        return block_hash in self._justified

    def get_header(self, block_hash: bytes) -> Header | None:
        return self._headers.get(block_hash)

    def get_justification(self, block_hash: bytes | None = None) -> tuple[FinalityVote, ...]:
        """The votes of the links that justify ``block_hash`` (default: the highest justified block),
        from the finalized root up; () for the root or a block not justified.

        A node whose finality stalls gossips it again: a byzantine authority can show its votes
        to some nodes only, and then only they know the block is justified.
        """
        if block_hash is None:
            block_hash = self.get_justified().hash
        if block_hash not in self._justified:
            return ()
        return tuple(v for link in self._compute_chain(block_hash) for v in self.get_link_votes(link))

    def get_link_votes(self, link: Link) -> tuple[FinalityVote, ...]:
        """The votes held for ``(source_number, source_hash, target_number, target_hash)``, by validator."""
        return tuple(sorted(self._links.get(link, {}).values(), key=lambda v: v.validator))

    def holds(self, event: FinalityVoteReceived | JustificationReceived) -> bool:
        """Every vote of this input counts already, so handling it changes nothing: a driver
        need not log it again (gossip repeats votes while finality stalls)."""
        try:
            votes = (event.vote,) if isinstance(event, FinalityVoteReceived) else tuple(event.votes)
        except (AttributeError, TypeError):
            return False
        return all(self._is_held(vote) for vote in votes)

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
        elif isinstance(event, JustificationReceived):
            self._on_justification(event.votes)
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
        self._justified = {finalized.hash: None}
        self._head = None
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
        self._sign_state = dataclasses.replace(self._sign_state, last_sealed_slot=slot)
        self._effects.append(PersistSignState(self._sign_state))
        self._effects.append(Sealed(header, seal))

    def _on_block_imported(self, header: Header, seal: Seal | None) -> None:
        if header.hash in self._headers:
            return
        parent = self._headers.get(header.parent_hash)
        if parent is None:
            raise ConsensusError("block on an unknown parent, or on a fork below the finalized root")
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
        self._head = None
        self._apply_links(self._links_to.get(header.hash, ()))
        self._vote()

    def _on_vote(self, vote: FinalityVote) -> None:
        if self._is_held(vote):
            return  # a repeat of a vote that counts already (gossip re-sends them)
        self._validate_vote(vote)
        if self._accept_vote(vote) and self._apply_links((vote.link,)):
            self._vote()

    def _on_justification(self, votes: tuple[FinalityVote, ...]) -> None:
        if not isinstance(votes, tuple) or len(votes) > len(self.validators) * MAX_PROOF_LINKS:
            raise ConsensusError(f"a justification holds at most {len(self.validators) * MAX_PROOF_LINKS} votes")
        for vote in votes:
            if not self._is_held(vote):
                self._validate_vote(vote)  # all or nothing: a bad vote drops the whole justification
        assert self._root is not None
        supported = {link for link, voters in compute_links(votes).items()
                     if link[2] > self._root.number and self.validators.has_quorum(len(voters))}
        links = []
        for vote in votes:
            if self._accept_vote(vote):
                links.append(vote.link)
            elif vote.link in supported and vote.validator not in self._links.get(vote.link, {}):
                # An equivocator's other vote: it counts toward a link that has a quorum on its
                # own (that takes honest votes, so these stay few), but it is not held as its vote.
                self._add_link_vote(vote)
                links.append(vote.link)
        if self._apply_links(dict.fromkeys(links)):
            self._vote()

    def _is_held(self, vote: FinalityVote) -> bool:
        """This very vote (signature included) counts already: it was validated then."""
        try:
            return self._links.get(vote.link, {}).get(vote.validator) == vote
        except (AttributeError, TypeError):
            return False  # not a vote, or unhashable fields: validation says why

    def _validate_vote(self, vote: FinalityVote) -> None:
        """Raises: ConsensusError (a bad vote, too far ahead, or contradicting the blocks held)."""
        validate_finality_vote(vote, chain_id=self.chain_id, validators=self.validators)
        root = self._root
        assert root is not None
        if vote.target_number > root.number + MAX_VOTE_LOOKAHEAD:
            raise ConsensusError(f"finality vote for {vote.target_number}, more than {MAX_VOTE_LOOKAHEAD} "
                                 f"above the finalized block {root.number}")
        self._validate_against_blocks(vote)

    def _accept_vote(self, vote: FinalityVote) -> bool:
        """Hold a valid vote; False (evidence reported if it is some) when it doubles or surrounds
        one held, repeats it, or is stale. The first vote of a validator at a target number counts."""
        held = self._held.get(vote.validator, {})
        first = held.get(vote.target_number)
        if first is not None:
            if first.is_double_vote(vote):
                self._report(DoubleFinalityVote.from_votes(first, vote))
            return False
        for other in held.values():
            if other.surrounds(vote) or vote.surrounds(other):
                self._report(SurroundVote.from_votes(other, vote))
                return False  # evidence, not a vote
        assert self._root is not None
        if vote.target_number <= self._root.number:
            return False  # stale
        self._add_vote(vote)
        return True

    # -- helpers ------------------------------------------------------------------------

    def _validate_against_blocks(self, vote: FinalityVote) -> None:
        """A vote must agree with the blocks we hold: their numbers, and the source an ancestor of the target.

        Raises:
            MalformedMessage, ConsensusError: with the reason.
        """
        target = self._headers.get(vote.target_hash)
        source = self._headers.get(vote.source_hash)
        if target is not None and target.number != vote.target_number:
            raise MalformedMessage(f"vote names block {target.number} as number {vote.target_number}")
        if source is not None and source.number != vote.source_number:
            raise MalformedMessage(f"vote names block {source.number} as number {vote.source_number}")
        if (target is not None and source is not None
                and compute_ancestor_hash(target, source.number, self._headers) != source.hash):
            raise ConsensusError("finality vote whose source is not an ancestor of its target")

    def _report(self, evidence: DoubleSeal | DoubleFinalityVote | SurroundVote) -> None:
        key = evidence.compute_hash()
        if key not in self._reported:
            self._reported.add(key)
            log.warning("misbehaviour_detected", kind=type(evidence).__name__,
                        validator="0x" + evidence.validator.hex(), height=evidence.height)
            self._effects.append(ReportEvidence(evidence))

    def _add_vote(self, vote: FinalityVote) -> None:
        self._held.setdefault(vote.validator, {})[vote.target_number] = vote
        self._add_link_vote(vote)

    def _add_link_vote(self, vote: FinalityVote) -> None:
        link = vote.link
        self._links.setdefault(link, {})[vote.validator] = vote
        self._links_from.setdefault(vote.source_hash, set()).add(link)
        self._links_to.setdefault(vote.target_hash, set()).add(link)

    def _counted_target(self, link: Link) -> Header | None:
        """The target of ``link`` when the link counts: >2/3 behind it, from a justified source
        (or one below the root) to a block above the root that descends from that source."""
        source_number, source_hash, target_number, target_hash = link
        root = self._root
        assert root is not None
        votes = self._links.get(link)
        if target_number <= root.number or not votes or not self.validators.has_quorum(len(votes)):
            return None
        target = self._headers.get(target_hash)
        if target is None or target.number != target_number:
            return None  # not here yet (counted when it is imported), or a vote that lies
        if source_number < root.number:
            return target  # below the root: see the module docstring
        if source_hash not in self._justified:
            return None  # counted when the source is justified
        if compute_ancestor_hash(target, source_number, self._headers) != source_hash:
            return None
        return target

    def _apply_links(self, links: Iterable[Link]) -> bool:
        """Justify and finalize what ``links`` (and the links they unlock) prove; True if anything moved."""
        work = list(links)
        moved = False
        while work:
            link = work.pop()
            target = self._counted_target(link)
            if target is None:
                continue
            source_number, source_hash, target_number, target_hash = link
            if target_hash not in self._justified:
                self._justified[target_hash] = link
                self._head = None
                moved = True
                work.extend(self._links_from.get(target_hash, ()))
            assert self._root is not None
            if target_number == source_number + 1 and source_number > self._root.number:
                self._finalize(self._headers[source_hash], link)
                moved = True
        return moved

    def _compute_chain(self, block_hash: bytes) -> list[Link]:
        """The links that justified ``block_hash``, from the one out of the root (or below it) up."""
        assert self._root is not None
        chain: list[Link] = []
        via = self._justified[block_hash]
        while via is not None:
            chain.append(via)
            if via[0] <= self._root.number:
                break  # the root, or a source below it
            via = self._justified[via[1]]
        chain.reverse()
        return chain

    def _compute_proof(self, finalized: Header, link: Link) -> tuple[FinalityVote, ...]:
        """The votes of the links from the root up to ``finalized``, then of ``link`` (to its child)."""
        return tuple(v for each in [*self._compute_chain(finalized.hash), link] for v in self.get_link_votes(each))

    def _finalize(self, header: Header, link: Link) -> None:
        proof = self._compute_proof(header, link)
        self._root = header
        self._process_finalized(header.number, header.hash)
        self._effects.append(Finalized(header.number, header.hash, proof))
        log.info("finalized", height=header.number, block="0x" + header.hash.hex(), votes=len(proof))
        self._prune()

    def _prune(self) -> None:
        """Forget forks of the finalized root, blocks below it, and settled links, votes and seals."""
        root = self._root
        assert root is not None
        before = self._headers
        self._headers = {h: hd for h, hd in before.items()
                         if hd.number >= root.number and compute_ancestor_hash(hd, root.number, before) == root.hash}
        self._seals = {h: s for h, s in self._seals.items() if h in self._headers}
        self._justified = {h: via for h, via in self._justified.items() if h in self._headers}
        # A link to a pruned fork can never count; one to a block not seen yet may, later.
        self._links = {k: v for k, v in self._links.items()
                       if k[2] > root.number and (k[3] in self._headers or k[3] not in before)}
        self._links_from, self._links_to = {}, {}
        for link in self._links:
            self._links_from.setdefault(link[1], set()).add(link)
            self._links_to.setdefault(link[3], set()).add(link)
        self._held = {v: kept for v, votes in self._held.items()
                      if (kept := {t: vote for t, vote in votes.items() if t > root.number})}
        self._head = None
        root_slot = compute_slot(root.timestamp, self.slot_duration)
        self._slot_seals = {k: v for k, v in self._slot_seals.items() if k[1] >= root_slot}

    def _vote(self) -> None:
        """Vote source → head while the head is above our last target (see the module docstring)."""
        if not self.is_authority:
            return
        assert self.signer is not None
        while True:
            state = self._sign_state
            head = self.get_head()
            if head.number <= state.last_target_number:
                return
            source = self.get_justified()
            if source.number >= head.number:
                return
            if source.number < state.last_source_number:
                # A restart forgot the justification of our last source: voting from a lower
                # one could surround our own earlier vote. Wait until we learn more.
                log.debug("vote_waits_for_justification", source=source.number,
                          last_source=state.last_source_number)
                return
            vote = FinalityVote(source.number, source.hash, head.number, head.hash,
                                self.signer.address).sign(self.signer, self.chain_id)
            self._sign_state = PoaSignState(state.last_sealed_slot, head.number, head.hash, source.number)
            self._effects.append(PersistSignState(self._sign_state))
            self._effects.append(Broadcast(vote))
            self._add_vote(vote)
            self._apply_links((vote.link,))


__all__ = [
    "BlockReady", "Effect", "Event", "FinalityVoteReceived", "JustificationReceived", "PoaCore", "PoaSignState",
    "ProposeBlock", "Sealed", "Start", "WrongAuthor", "WrongSlot", "choose_head", "compute_ancestor_hash",
    "compute_slot", "compute_slot_author", "compute_slot_seal", "seal_header",
]
