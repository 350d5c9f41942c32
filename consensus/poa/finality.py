"""Casper-FFG finality of PoA blocks as pure functions: links, ancestry, and proof checking.

Every block number is a checkpoint. A ``FinalityVote`` is a *link* S→T (S an ancestor of
T, ``S.number < T.number``). Starting from a block known to be final (the *root*):

- the root is justified;
- a block T descending from the root is justified when authorities with more than 2/3 of
  the votes signed one link S→T whose source S is justified — or lies below the root (an
  honest authority signs only justified sources; see ``consensus.poa.core`` for why this
  keeps accountable safety);
- a justified block S above the root is final when more than 2/3 signed a link S→C to a
  child C (``C.number == S.number + 1``); its ancestors are final with it.

A finality proof (``Finalized.votes`` of the PoA core) is the votes of the links of one
justification chain: from the previously finalized root, link by link up to the block,
then the finalizing link to its child. ``validate_finality_proof`` checks one from any final
root the verifier trusts between the proof's start and the block, with only the headers in
hand (links whose source lies below the verifier's root count as from a justified block).
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

import rlp

from consensus.errors import ConsensusError, MalformedMessage, OversizedMessage
from consensus.poa.messages import MAX_VOTE_BYTES, FinalityVote, validate_finality_vote
from consensus.types import ValidatorSet
from runtime.primitives.header import Header

MAX_PROOF_LINKS = 1025  # a chain from a root to a block at most 1024 above it (the core's vote lookahead)
Link = tuple[int, bytes, int, bytes]  # (source_number, source_hash, target_number, target_hash)
HeaderLookup = Callable[[bytes], "Header | None"]


class InvalidFinalityProof(ConsensusError):
    """Votes that do not prove the block final from the given root."""


def compute_ancestor_in(header: Header, number: int, get_header: HeaderLookup) -> bytes | None:
    """The hash of ``header``'s ancestor at ``number`` (itself at its own); None if a parent is unknown."""
    if number > header.number:
        return None
    current = header
    while current.number > number:
        parent = get_header(current.parent_hash)
        if parent is None:
            return None
        current = parent
    return current.hash


def compute_ancestor_hash(header: Header, number: int, headers: Mapping[bytes, Header]) -> bytes | None:
    """The hash of ``header``'s ancestor at ``number`` (itself at its own), None if not in ``headers``."""
    return compute_ancestor_in(header, number, headers.get)


def compute_links(votes: Iterable[FinalityVote]) -> dict[Link, set[bytes]]:
    """The validators behind each link among ``votes`` (one per validator and link)."""
    links: dict[Link, set[bytes]] = {}
    for vote in votes:
        links.setdefault(vote.link, set()).add(vote.validator)
    return links


def encode_justification(votes: Iterable[FinalityVote]) -> bytes:
    """What a node stores beside a finalized block: ``rlp([vote.encode(), ...])``."""
    return rlp.encode([vote.encode() for vote in votes])


def decode_justification(data: bytes, *, authorities: int) -> tuple[FinalityVote, ...]:
    """The votes of ``encode_justification`` (empty bytes: none), at most a proof's worth for
    ``authorities`` authorities.

    Raises:
        OversizedMessage, MalformedMessage: with the reason (a justification stored before
            the FFG votes, kind 2, is malformed now).
    """
    if not data:
        return ()
    limit = authorities * MAX_PROOF_LINKS * (MAX_VOTE_BYTES + 3) + 9
    if len(data) > limit:
        raise OversizedMessage(len(data), limit)
    try:
        items = rlp.decode(data)
    except Exception:
        raise MalformedMessage("justification is not an RLP encoding") from None
    if not isinstance(items, list) or not all(isinstance(item, bytes) for item in items):
        raise MalformedMessage("justification is a list of encoded votes")
    return tuple(FinalityVote.decode(item) for item in items)


def validate_finality_proof(*, chain_id: int, validators: ValidatorSet, root_number: int, root_hash: bytes,
                            finalized_number: int, finalized_hash: bytes, votes: Iterable[FinalityVote],
                            get_header: HeaderLookup) -> None:
    """Check that ``votes`` prove block ``finalized_hash`` at ``finalized_number`` final, from a trusted root.

    The root (``root_number``, ``root_hash``) is a block the verifier already holds final
    (genesis, or the last block it verified). ``get_header`` returns a header by hash, or
    None; it must know the blocks from the root up to the finalized block's child. Links
    are taken in order of target number, as a justification chain is built.

    Raises:
        InvalidFinalityProof: with the reason the votes prove nothing (a bad vote, too many
            votes, the block not justified, or no supermajority link from it to a child).
    """
    if finalized_number <= root_number:
        raise InvalidFinalityProof(f"block {finalized_number} is not above the root {root_number}")
    votes = tuple(votes)
    limit = len(validators) * MAX_PROOF_LINKS  # one vote per authority and link, before any signature is checked
    if len(votes) > limit:
        raise InvalidFinalityProof(f"{len(votes)} votes, more than the {limit} a proof can need")
    for vote in votes:
        try:
            validate_finality_vote(vote, chain_id=chain_id, validators=validators)
        except ConsensusError as exc:
            raise InvalidFinalityProof(f"bad vote: {exc.reason}") from None
    justified = {root_hash}
    finalizing = False
    links = compute_links(votes)
    for link in sorted(links, key=lambda k: (k[2], k[0], k[3], k[1])):
        source_number, source_hash, target_number, target_hash = link
        if target_number <= root_number or not validators.has_quorum(len(links[link])):
            continue
        target = get_header(target_hash)
        if target is None or target.number != target_number:
            continue
        if compute_ancestor_in(target, root_number, get_header) != root_hash:
            continue
        if source_number >= root_number and (
                source_hash not in justified
                or compute_ancestor_in(target, source_number, get_header) != source_hash):
            continue
        justified.add(target_hash)
        if (source_number, source_hash) == (finalized_number, finalized_hash) and target_number == source_number + 1:
            finalizing = True
    if finalized_hash not in justified:
        raise InvalidFinalityProof(f"the votes do not justify block {finalized_number} from root {root_number}")
    if not finalizing:
        raise InvalidFinalityProof(f"no supermajority link from block {finalized_number} to a child")


__all__ = [
    "InvalidFinalityProof", "Link", "MAX_PROOF_LINKS", "compute_ancestor_hash", "compute_ancestor_in", "compute_links",
    "decode_justification", "encode_justification", "validate_finality_proof",
]
