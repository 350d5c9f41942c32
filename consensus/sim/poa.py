"""Run N Aura-style ``PoaCore``s over a ``SimNetwork`` and check safety and liveness as they go.

One ``PoaSimulation`` is one seed, with the same ``SimConfig``, ``SeedResult`` and report as
the Tendermint runner (``consensus.sim.runner``). The simulator is each core's driver, as
``consensus.poa`` describes it:

- **clock**: virtual time in ms; slot ``k`` spans ``[k * slot_ms, (k + 1) * slot_ms)``. The
  cores run with a 1 s slot duration and see scaled time: at every slot boundary each live
  node gets ``Tick(k * 1000)``, and a header's timestamp is its slot (in core seconds). So
  ``--slot-ms`` changes the block interval without the core knowing.
- ``ProposeBlock`` is answered at once with a deterministic header (``new_header`` with the
  given parent, number and timestamp, coinbase = author, state root = keccak(rlp([number,
  author]))), so two authors' blocks at one number are distinct;
- ``Sealed``: the block is stored, gossiped (block + seal) to every peer over the seeded
  network, and fed back as ``BlockImported``;
- received blocks are checked with ``validate_header(header, parent, seal)`` and imported,
  parents first: a block with an unknown parent is buffered as an orphan and its parent asked
  for (the sender answers with the block and up to ``SYNC_BATCH`` ancestors); requests for
  parents still missing are repeated at every slot (block sync, in short);
- ``Broadcast(vote)`` gossips the finality vote, fed to peers as ``FinalityVoteReceived``;
- ``PersistSignState`` keeps the encoded sign state: it survives a crash, as do the stored
  blocks and the finalized pointer. A restarted core is built with that sign state, started
  from its finalized block and fed every stored block above it, parents first.

Checks, as the effects happen:
- agreement: no two honest nodes finalize different hashes at one number (a ``Finalized``
  effect finalizes the block's ancestors too: each number is checked);
- validity: a finalized hash is a block some author sealed;
- no honest double-sign: two seals by one honest author in one slot, or two finality votes by
  one honest authority for different blocks at one number, are counted.
At the end, liveness: every honest node's finalized number reached ``blocks`` before the
deadline (the last heal plus the budget). Time to finality: from the block's seal to each
honest node finalizing it.

Byzantine: ``silent`` ones never send; ``equivocate`` ones follow the chain with a
signer-less core, seal two different headers in their slot (one to each half of the honest
nodes) and sign a finality vote for every block they see, both forks included, sent to all.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator

import rlp

import consensus.poa.messages as poa_messages
from consensus.engine import BlockImported, Broadcast, Finalized, PersistSignState, ReportEvidence, Seal, Tick
from consensus.errors import ConsensusError
from consensus.keys import Signer
from consensus.poa.core import (
    BlockReady,
    FinalityVoteReceived,
    PoaCore,
    ProposeBlock,
    Sealed,
    Start,
    compute_slot_author,
    seal_header,
)
from consensus.poa.messages import FinalityVote
from consensus.sim.network import SimNetwork
from consensus.sim.runner import (
    CHAIN_ID,
    CRASH_EARLIEST_MS,
    EQUIVOCATE,
    HONEST,
    SILENT,
    SeedResult,
    SimConfig,
    finish_result,
    make_signers,
    memoise_verify,
    schedule_crashes,
)
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import ZERO_HASH, Header, new_header

CORE_SLOT_S = 1  # the cores' slot duration; virtual time is scaled so a slot lasts slot_ms
SYNC_BATCH = 32
GAS_LIMIT = 30_000_000
BASE_FEE = 10**9

# Heap item tags.
SLOT, BLOCK, VOTE, REQUEST, BATCH, SYNC, CRASH, RESTART = range(8)
RESEND_VOTES = 16  # a stalled node re-sends at most its last 16 votes per slot

GENESIS = new_header(parent_hash=ZERO_HASH, number=0, timestamp=0, gas_limit=GAS_LIMIT, base_fee_per_gas=BASE_FEE)


@contextlib.contextmanager
def verified_poa_signature_cache() -> Iterator[dict[tuple[bytes, bytes], bytes]]:
    """Memoise seal and vote signature recovery (``consensus.poa.messages.verify``).

    Every node verifies every seal and vote: N identical ECDSA recoveries each. The memo
    returns exactly what ``verify`` returns; a failing signature is not cached. Undone on exit.
    """
    original = poa_messages.verify
    cache: dict[tuple[bytes, bytes], bytes] = {}

    poa_messages.verify = memoise_verify(original, cache)
    try:
        yield cache
    finally:
        poa_messages.verify = original


def build_header(parent_hash: bytes, number: int, slot: int, author: bytes, tag: bytes = b"") -> Header:
    """The simulator's block: deterministic, distinct per (number, author, tag)."""
    return new_header(parent_hash=parent_hash, number=number, timestamp=slot * CORE_SLOT_S, gas_limit=GAS_LIMIT,
                      base_fee_per_gas=BASE_FEE, coinbase=author,
                      state_root=keccak256(rlp.encode([number, author, tag])))


class PoaNode:
    __slots__ = ("index", "signer", "address", "role", "core", "crashed", "incarnation", "sign_state", "store",
                 "finalized", "fin_number", "fin_hash", "justification", "orphans", "wanted", "voted", "my_votes",
                 "fin_at_slot")

    def __init__(self, index: int, signer: Signer, role: str) -> None:
        self.index = index
        self.signer = signer
        self.address = signer.address
        self.role = role
        self.core: PoaCore | None = None
        self.crashed = False
        self.incarnation = 0
        # Survive a crash: the persisted sign state, the block store, the finalized pointer.
        self.sign_state: bytes | None = None
        self.store: dict[bytes, tuple[Header, Seal]] = {}
        self.finalized: dict[int, bytes] = {}
        self.fin_number = 0
        self.fin_hash = GENESIS.hash
        self.justification: tuple[FinalityVote, ...] = ()  # the votes that finalized fin_hash
        self.my_votes: dict[int, FinalityVote] = {}  # this node's votes above its finalized number
        self.fin_at_slot = -1
        # Lost on a crash: orphans by parent hash, parents asked for (hash -> peer asked).
        self.orphans: dict[bytes, dict[bytes, tuple[Header, Seal]]] = {}
        self.wanted: dict[bytes, int] = {}
        self.voted: set[bytes] = set()  # equivocating voters: blocks already voted for

    def header(self, block_hash: bytes) -> Header | None:
        if block_hash == GENESIS.hash:
            return GENESIS
        entry = self.store.get(block_hash)
        return None if entry is None else entry[0]


class PoaSimulation:
    """One seeded run of ``config`` with PoA cores; ``run()`` returns its ``SeedResult``."""

    def __init__(self, config: SimConfig, seed: int, *, relay: bool = True) -> None:
        self.config = config
        self.seed = seed
        self.relay = relay
        n = config.validators
        self.slot_ms = config.slot_ms
        scenario = random.Random(f"chameleon-sim/{seed}/scenario")
        self.net = SimNetwork(random.Random(f"chameleon-sim/{seed}/network"), n, delay_ms=config.delay_ms,
                              drop=config.drop, duplicate=config.duplicate, partitions=config.partitions)
        signers = make_signers(n)
        self.authorities = tuple(s.address for s in signers)
        byzantine = set(scenario.sample(range(n), config.byzantine))
        self.byzantine = sorted(byzantine)
        self.honest = [i for i in range(n) if i not in byzantine]
        crashers = sorted(scenario.sample(self.honest, config.crash))
        role = EQUIVOCATE if config.byzantine_mode == "equivocate" else SILENT
        self.nodes = [PoaNode(i, s, role if i in byzantine else HONEST) for i, s in enumerate(signers)]
        half = len(self.honest) // 2
        self.half_a = self.honest[:half] + self.byzantine
        self.half_b = self.honest[half:]
        self.result = SeedResult(seed)
        self.sealed_at: dict[bytes, int] = {}  # block hash -> virtual ms it was sealed (validity + t0)
        self.final: dict[int, bytes] = {}
        self.forked: set[int] = set()
        self.seals: dict[tuple[bytes, int], bytes] = {}  # (honest author, slot) -> block hash
        self.votes: dict[tuple[bytes, int], bytes] = {}  # (honest authority, number) -> block hash
        self.done = 0
        horizon = max(CRASH_EARLIEST_MS + 1, config.blocks * self.slot_ms)
        self.heal_ms = schedule_crashes(self.net, scenario, crashers, horizon, self.net.last_heal_ms,
                                        crash_tag=CRASH, restart_tag=RESTART)
        self.deadline = self.heal_ms + config.effective_budget_ms

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> SeedResult:
        net = self.net
        for node in self.nodes:
            if node.role != SILENT:
                self._boot(node)
        net.schedule(self.slot_ms, 0, (SLOT, 1))
        target = len(self.honest)
        nodes = self.nodes
        events = 0
        while self.done < target:
            entry = net.pop()
            if entry is None or net.now > self.deadline:
                break
            events += 1
            dst, item = entry
            tag = item[0]
            if tag == SLOT:
                self._on_slot(item[1])
                continue
            node = nodes[dst]
            if tag == CRASH:
                self._crash(node)
                continue
            if tag == RESTART:
                self._restart(node)
                continue
            if node.core is None:
                continue
            if tag == BLOCK:
                self.result.delivered += 1
                self._receive_block(node, item[2], item[3], item[1])
            elif tag == VOTE:
                self.result.delivered += 1
                self._feed(node, FinalityVoteReceived(item[2]))
            elif tag == REQUEST:
                self._answer_request(node, item[1], item[2])
            elif tag == BATCH:
                for header, seal in item[2]:
                    if node.core is None:
                        break
                    self._receive_block(node, header, seal, item[1])
                for vote in item[3]:
                    if node.core is None:
                        break
                    self._feed(node, FinalityVoteReceived(vote))
            elif tag == SYNC:
                self._answer_sync(node, item[1], item[2])
        return self._finish(events)

    def _finish(self, events: int) -> SeedResult:
        heights = [self.nodes[i].fin_number for i in self.honest]
        return finish_result(self.result, self.net, events, heights, self.config.blocks, self.deadline, "finalized")

    def _on_slot(self, slot: int) -> None:
        """A slot boundary: tick every live node, let a byzantine author act, retry block requests."""
        now_core_ms = slot * CORE_SLOT_S * 1000
        author = compute_slot_author(slot, self.authorities)
        for node in self.nodes:
            if node.core is None:
                continue
            if node.role == HONEST:
                self._feed(node, Tick(now_core_ms))
            elif node.address == author:
                self._equivocate(node, slot)
            if node.core is not None and node.wanted:
                self._retry_requests(node, slot)
            if node.core is not None and node.role == HONEST:
                if node.fin_number == node.fin_at_slot:
                    self._gossip_stalled(node, slot)
                node.fin_at_slot = node.fin_number
        self.net.schedule(self.slot_ms, 0, (SLOT, slot + 1))

    # -- a core and its effects -------------------------------------------------------------

    def _boot(self, node: PoaNode) -> None:
        state = None if node.sign_state is None else PoaCore.decode_sign_state(node.sign_state)
        node.core = PoaCore(chain_id=CHAIN_ID, authorities=self.authorities, slot_duration=CORE_SLOT_S,
                            signer=node.signer if node.role == HONEST else None, sign_state=state)
        root = node.header(node.fin_hash)
        assert root is not None
        self._feed(node, Start(root))
        # Every stored block above the finalized one, parents first (what a restart re-imports).
        for header, seal in sorted(node.store.values(), key=lambda e: (e[0].number, e[0].hash)):
            if header.number > root.number and node.core is not None:
                self._feed(node, BlockImported(header, seal))

    def _feed(self, node: PoaNode, event: object) -> bool:
        core = node.core
        assert core is not None
        try:
            effects = core.handle(event)  # type: ignore[arg-type]
        except ConsensusError:
            return False  # dropped with a reason, as the driver would
        if effects:
            self._perform(node, effects)
        return True

    def _perform(self, node: PoaNode, effects: list) -> None:
        for effect in effects:
            if node.core is None:
                return
            kind = type(effect)
            if kind is Broadcast:
                self._send_vote(node, effect.message)
            elif kind is PersistSignState:
                node.sign_state = node.core.encode_sign_state(effect.state)
            elif kind is ProposeBlock:
                header = build_header(effect.parent_hash, effect.number, effect.slot, node.address)
                self._feed(node, BlockReady(header))
            elif kind is Sealed:
                self._on_sealed(node, effect.header, effect.seal)
            elif kind is Finalized:
                if effect.number > node.fin_number:
                    node.justification = tuple(effect.votes)
                self._on_finalized(node, effect.number, effect.block_hash)
            elif kind is ReportEvidence:
                pass  # evidence is the PoS issue's; honest double-signs are counted at signing

    def _on_sealed(self, node: PoaNode, header: Header, seal: Seal) -> None:
        h = header.hash
        if node.role == HONEST:
            key = (node.address, seal.round)
            previous = self.seals.setdefault(key, h)
            if previous != h:
                self.result.honest_double_signs += 1
                self.result.problems.append(f"honest double-seal: validator {node.index} in slot {seal.round} "
                                            f"(t={self.net.now} ms)")
        self.sealed_at.setdefault(h, self.net.now)
        node.store[h] = (header, seal)
        item = (BLOCK, node.index, header, seal)
        send = self.net.send
        for dst in range(self.config.validators):
            if dst != node.index:
                send(node.index, dst, item)
        self._feed(node, BlockImported(header, seal))
        self._release_orphans(node, h)

    def _send_vote(self, node: PoaNode, vote: FinalityVote) -> None:
        if node.role == HONEST:
            key = (node.address, vote.number)
            previous = self.votes.setdefault(key, vote.block_hash)
            if previous != vote.block_hash:
                self.result.honest_double_signs += 1
                self.result.problems.append(f"honest double finality vote: validator {node.index} at number "
                                            f"{vote.number} (t={self.net.now} ms)")
        node.my_votes[vote.number] = vote
        item = (VOTE, node.index, vote)
        send = self.net.send
        for dst in range(self.config.validators):
            if dst != node.index:
                send(node.index, dst, item)

    def _on_finalized(self, node: PoaNode, number: int, block_hash: bytes) -> None:
        """Record the block and its ancestors down to the previous finalized one; check them."""
        previous = node.fin_number
        if number <= previous:
            return
        chain: list[tuple[int, bytes]] = []
        current = node.header(block_hash)
        while current is not None and current.number > node.fin_number:
            chain.append((current.number, current.hash))
            current = node.header(current.parent_hash)
        node.fin_number, node.fin_hash = number, block_hash
        node.my_votes = {k: v for k, v in node.my_votes.items() if k > number}
        if node.role != HONEST:
            return
        r = self.result
        now = self.net.now
        for num, h in reversed(chain):
            node.finalized[num] = h
            t0 = self.sealed_at.get(h)
            if t0 is None:
                r.safety_violations += 1
                r.problems.append(f"validity: validator {node.index} finalized an unsealed block at {num}")
            else:
                r.finality_ms.append(now - t0)
            first = self.final.setdefault(num, h)
            if first != h and num not in self.forked:
                self.forked.add(num)
                r.safety_violations += 1
                r.problems.append(f"agreement: two blocks finalized at number {num} "
                                  f"(validator {node.index} at t={now} ms)")
        if number >= self.config.blocks > previous:
            self.done += 1

    # -- blocks from the network ----------------------------------------------------------

    def _receive_block(self, node: PoaNode, header: Header, seal: Seal, src: int) -> None:
        h = header.hash
        if h in node.store:
            return
        node.wanted.pop(h, None)
        parent = node.header(header.parent_hash)
        if parent is None:
            node.orphans.setdefault(header.parent_hash, {})[h] = (header, seal)
            if header.parent_hash not in node.wanted:
                node.wanted[header.parent_hash] = src
                self.net.send(node.index, src, (REQUEST, node.index, header.parent_hash))
            return
        if self._import(node, header, seal, parent):
            self._release_orphans(node, h)

    def _import(self, node: PoaNode, header: Header, seal: Seal, parent: Header) -> bool:
        core = node.core
        assert core is not None
        try:
            core.validate_header(header, parent, seal)
        except ConsensusError:
            return False
        node.store[header.hash] = (header, seal)
        if node.role == HONEST and self.relay:
            # Block gossip floods: a newly imported block goes on to every peer once.
            item = (BLOCK, node.index, header, seal)
            send = self.net.send
            for dst in range(self.config.validators):
                if dst != node.index:
                    send(node.index, dst, item)
        self._feed(node, BlockImported(header, seal))  # refused on a fork below the finalized head: kept stored
        if node.role == EQUIVOCATE:
            self._byzantine_vote(node, header)
        return True

    def _release_orphans(self, node: PoaNode, block_hash: bytes) -> None:
        stack = [block_hash]
        while stack and node.core is not None:
            parent_hash = stack.pop()
            children = node.orphans.pop(parent_hash, None)
            if not children:
                continue
            parent = node.header(parent_hash)
            assert parent is not None
            for h, (header, seal) in sorted(children.items()):
                if h not in node.store and node.core is not None and self._import(node, header, seal, parent):
                    stack.append(h)

    def _answer_request(self, node: PoaNode, peer: int, block_hash: bytes) -> None:
        """Send ``peer`` the block and up to ``SYNC_BATCH - 1`` of its ancestors, oldest first."""
        entries = []
        current = node.store.get(block_hash)
        while current is not None and len(entries) < SYNC_BATCH:
            entries.append(current)
            current = node.store.get(current[0].parent_hash)
        if entries:
            entries.reverse()
            self.net.send(node.index, peer, (BATCH, node.index, tuple(entries), ()))

    def _gossip_stalled(self, node: PoaNode, slot: int) -> None:
        """Finality did not move for a slot: re-send our votes above it, ask a peer for finality.

        Votes are sent once and the network loses some; as GRANDPA's gossip and sync do, a
        stalled node repeats its recent votes to every peer, and asks one peer (round-robin)
        for the finalized blocks it lacks with their justification (the finalizing votes).
        """
        n = self.config.validators
        if n == 1:
            return
        send = self.net.send
        for number in sorted(node.my_votes)[-RESEND_VOTES:]:
            item = (VOTE, node.index, node.my_votes[number])
            for dst in range(n):
                if dst != node.index:
                    send(node.index, dst, item)
        peer = (node.index + 1 + slot % (n - 1)) % n
        send(node.index, peer, (SYNC, node.index, node.fin_number))

    def _answer_sync(self, node: PoaNode, peer: int, their_fin: int) -> None:
        """Send ``peer`` the finalized blocks above ``their_fin`` (oldest first, at most
        ``SYNC_BATCH``), with the justification when the batch reaches our finalized block."""
        if node.fin_number <= their_fin:
            return
        chain = []
        current = node.store.get(node.fin_hash)
        while current is not None and current[0].number > their_fin:
            chain.append(current)
            current = node.store.get(current[0].parent_hash)
        chain.reverse()
        entries = tuple(chain[:SYNC_BATCH])
        votes = node.justification if len(chain) <= SYNC_BATCH else ()
        self.net.send(node.index, peer, (BATCH, node.index, entries, votes))

    def _retry_requests(self, node: PoaNode, slot: int) -> None:
        """Ask again for parents still missing: the peer asked before and one more, round-robin."""
        n = self.config.validators
        for block_hash, peer in list(node.wanted.items()):
            other = (node.index + 1 + slot % (n - 1)) % n if n > 1 else peer
            for dst in {peer, other}:
                if dst != node.index:
                    self.net.send(node.index, dst, (REQUEST, node.index, block_hash))

    # -- crashes ----------------------------------------------------------------------------

    def _crash(self, node: PoaNode) -> None:
        node.crashed = True
        node.core = None
        node.incarnation += 1
        node.orphans.clear()
        node.wanted.clear()

    def _restart(self, node: PoaNode) -> None:
        node.crashed = False
        self.result.restarts += 1
        self._boot(node)

    # -- byzantine equivocation -----------------------------------------------------------

    def _equivocate(self, node: PoaNode, slot: int) -> None:
        """Seal two headers on the shadow core's head in our slot: one for each half."""
        core = node.core
        assert core is not None
        head = core.get_head()
        if head.timestamp // CORE_SLOT_S >= slot:
            return
        for tag, targets in ((b"A", self.half_a), (b"B", self.half_b)):
            header = build_header(head.hash, head.number + 1, slot, node.address, tag)
            seal = seal_header(header, node.signer, chain_id=CHAIN_ID, validators=core.validators,
                               slot_duration=CORE_SLOT_S)
            self.sealed_at.setdefault(header.hash, self.net.now)
            item = (BLOCK, node.index, header, seal)
            for dst in targets:
                if dst != node.index:
                    self.net.send(node.index, dst, item)
            if header.hash not in node.store:
                self._import(node, header, seal, head)

    def _byzantine_vote(self, node: PoaNode, header: Header) -> None:
        """A finality vote for every block seen, whatever it conflicts with, sent to all."""
        if header.hash in node.voted:
            return
        node.voted.add(header.hash)
        vote = FinalityVote(header.number, header.hash, node.address).sign(node.signer, CHAIN_ID)
        self._send_vote(node, vote)


def run_poa_seed(config: SimConfig, seed: int) -> SeedResult:
    with verified_poa_signature_cache():
        return PoaSimulation(config, seed).run()


__all__ = ["GENESIS", "PoaNode", "PoaSimulation", "build_header", "run_poa_seed", "verified_poa_signature_cache"]
