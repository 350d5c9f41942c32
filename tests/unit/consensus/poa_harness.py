"""Shared helpers for the PoA engine tests: authorities, headers, an in-memory network."""
from __future__ import annotations

from consensus.engine import BlockImported, Broadcast, Finalized, PersistSignState, Tick
from consensus.keys import Signer
from consensus.poa import (
    BlockReady,
    FinalityVoteReceived,
    PoaCore,
    ProposeBlock,
    Sealed,
    Start,
    seal_header,
    validate_finality_proof,
)
from consensus.poa.messages import FinalityVote
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import ZERO_HASH, Header, new_header

CHAIN_ID = 7
SLOT_S = 2


def make_signers(n: int) -> list[Signer]:
    """Signers in authority order (by address), so signers[i] authors slots i, i+n, ..."""
    signers = [Signer(keccak256(b"chameleon poa test authority %d" % i)) for i in range(n)]
    return sorted(signers, key=lambda s: s.address)


GENESIS = new_header(parent_hash=ZERO_HASH, number=0, timestamp=0, gas_limit=30_000_000, base_fee_per_gas=10**9)


def make_header(parent: Header, slot: int, tag: bytes = b"") -> Header:
    return new_header(parent_hash=parent.hash, number=parent.number + 1, timestamp=slot * SLOT_S,
                      gas_limit=30_000_000, base_fee_per_gas=10**9, extra_data=tag)


def make_core(signers: list[Signer], me: int | None, **kwargs) -> PoaCore:
    core = PoaCore(chain_id=CHAIN_ID, authorities=[s.address for s in signers], slot_duration=SLOT_S,
                   signer=None if me is None else signers[me], **kwargs)
    core.handle(Start(GENESIS))
    return core


def seal(core: PoaCore, header: Header, signer: Signer):
    return seal_header(header, signer, chain_id=CHAIN_ID, validators=core.validators, slot_duration=SLOT_S)


def sealed_block(core: PoaCore, signers: list[Signer], parent: Header, slot: int, tag: bytes = b""):
    header = make_header(parent, slot, tag)
    author = signers[slot % len(signers)]
    return header, seal(core, header, author)


def vote(signer: Signer, source: Header, target: Header) -> FinalityVote:
    """``signer``'s finality link ``source`` → ``target``."""
    return FinalityVote(source.number, source.hash, target.number, target.hash, signer.address).sign(signer, CHAIN_ID)


def votes(signers: list[Signer], source: Header, target: Header) -> list[FinalityVote]:
    return [vote(s, source, target) for s in signers]


def feed_votes(core: PoaCore, signers: list[Signer], source: Header, target: Header) -> list:
    """Feed each signer's link ``source`` → ``target``; return the effects."""
    effects = []
    for v in votes(signers, source, target):
        effects += core.handle(FinalityVoteReceived(v))
    return effects


def import_chain(core: PoaCore, signers: list[Signer], parent: Header, slots, tag: bytes = b"") -> list[Header]:
    """Import blocks sealed by their slot authors, each on the previous; return their headers."""
    headers = []
    for slot in slots:
        header, s = sealed_block(core, signers, parent, slot, tag)
        core.handle(BlockImported(header, s))
        headers.append(header)
        parent = header
    return headers


def of_type(effects, cls) -> list:
    return [e for e in effects if isinstance(e, cls)]


def ensure_persisted_first(effects) -> None:
    """Every Broadcast/Sealed of something signed comes after a PersistSignState."""
    first_persist = next((i for i, e in enumerate(effects) if isinstance(e, PersistSignState)), None)
    for i, e in enumerate(effects):
        if isinstance(e, (Broadcast, Sealed)):
            assert first_persist is not None and first_persist < i, effects


class Network:
    """N cores; every effect is performed at once, in order (a perfect synchronous network)."""

    def __init__(self, n: int) -> None:
        self.signers = make_signers(n)
        self.cores = [make_core(self.signers, i) for i in range(n)]
        self.finalized: list[list[Finalized]] = [[] for _ in range(n)]
        self.persisted: list[object] = [None] * n
        self.headers: dict[bytes, Header] = {GENESIS.hash: GENESIS}

    def run_slots(self, first: int, last: int) -> None:
        for slot in range(first, last + 1):
            for i in range(len(self.cores)):
                self._perform(i, self.cores[i].handle(Tick(slot * SLOT_S * 1000)))

    def _perform(self, i: int, effects) -> None:
        ensure_persisted_first(effects)
        for e in effects:
            if isinstance(e, PersistSignState):
                self.persisted[i] = self.cores[i].encode_sign_state(e.state)
            elif isinstance(e, ProposeBlock):
                parent = self.cores[i].get_header(e.parent_hash)
                header = make_header(parent, e.slot)
                self._perform(i, self.cores[i].handle(BlockReady(header)))
            elif isinstance(e, Sealed):
                self.headers[e.header.hash] = e.header
                for j, core in enumerate(self.cores):
                    self._perform(j, core.handle(BlockImported(e.header, e.seal)))
            elif isinstance(e, Broadcast):
                for j, core in enumerate(self.cores):
                    if j != i:
                        self._perform(j, core.handle(FinalityVoteReceived(e.message)))
            elif isinstance(e, Finalized):
                # Every proof checks without the core, from the node's previous finalized block.
                root = self.finalized[i][-1] if self.finalized[i] else Finalized(0, GENESIS.hash, ())
                validate_finality_proof(chain_id=CHAIN_ID, validators=self.cores[i].validators,
                                        root_number=root.number, root_hash=root.block_hash, finalized_number=e.number,
                                        finalized_hash=e.block_hash, votes=e.votes, get_header=self.headers.get)
                self.finalized[i].append(e)
