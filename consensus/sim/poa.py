"""Run N Aura-style ``PoaCore``s (Casper-FFG finality) over a ``SimNetwork``; check safety and liveness as they go.

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
- ``Broadcast(vote)`` gossips the finality vote (a link source → target), fed to peers as
  ``FinalityVoteReceived``;
- ``Finalized(number, hash, votes)``: the finalized pointer moves and the proof is kept (the
  node's justifications, for peers catching up);
- ``PersistSignState`` keeps the encoded sign state: it survives a crash, as do the stored
  blocks, the finalized pointer, the proofs and the **WAL** (``consensus.wal`` records, in
  memory): an honest node logs each ``FinalityVoteReceived``/``JustificationReceived``
  before its core handles it (unless the core holds every vote of it already: a repeat),
  and each vote it signs (after its sign state); at each ``Finalized`` the WAL is compacted
  to a ``FinalizedMarker`` and the votes above it (``compute_poa_replay``). A restarted core
  is built with that sign state, started from its finalized block, fed every stored block
  above it, parents first, the finalized block's proof (``JustificationReceived``), then
  the logged votes, in order: it holds the votes it held before the crash (others' and its
  own, which its sign state forbids signing again), so it votes on from the justification
  it knew instead of waiting to learn it again (``PoaSimulation(wal=False)`` shows that).
- catch-up: a node whose finality did not move for a slot re-sends its recent votes and its
  justification (``PoaCore.get_justification``, fed to peers as ``JustificationReceived``),
  and asks a peer (round-robin) for finality; the peer answers with its proofs above the
  asker's finalized block, the blocks they name and its justification (``_answer_sync``),
  fed as blocks and one ``JustificationReceived``.

Checks, as the effects happen:
- agreement: no two honest nodes finalize different hashes at one number (a ``Finalized``
  effect finalizes the block's ancestors too: each number is checked);
- validity: a finalized hash is a block some author sealed;
- proof: an honest node's ``Finalized.votes`` pass ``validate_finality_proof`` from the
  node's previous finalized block, with its stored headers (counted as a safety violation);
- no honest double-sign: two seals by one honest author in one slot, two finality votes by
  one honest authority with one target number and different links, or one honest vote
  surrounding another of the same authority (s1 < s2 < t2 < t1), are counted.
At the end, liveness: every honest node's finalized number reached ``blocks`` before the
deadline (the last heal plus the budget). Time to finality: from the block's seal to each
honest node finalizing it.

Byzantine: ``silent`` ones never send; ``equivocate`` ones follow the chain with a
signer-less core, seal two different headers in their slot (one to each half of the honest
nodes, each on that half's head), and echo votes: every link an honest authority votes for, a byzantine one signs too
and sends to that authority's half only. Each half can then justify and finalize its own
fork when the byzantine ones reach 1/3 (their double and surround votes make it possible,
and the agreement check catches it); below 1/3 the echo cannot make a quorum on its own.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import rlp

import consensus.poa.messages as poa_messages
from consensus.engine import BlockImported, Broadcast, Finalized, PersistSignState, ReportEvidence, Seal, Tick
from consensus.errors import ConsensusError
from consensus.keys import Signer
from consensus.poa.core import (
    BlockReady,
    FinalityVoteReceived,
    JustificationReceived,
    PoaCore,
    ProposeBlock,
    Sealed,
    Start,
    compute_slot_author,
    seal_header,
)
from consensus.poa.finality import validate_finality_proof
from consensus.poa.messages import FinalityVote
from consensus.sim.runner import (
    CACHE_LIMIT,
    CHAIN_ID,
    CRASH_EARLIEST_MS,
    EQUIVOCATE,
    HONEST,
    SILENT,
    SeedResult,
    SimConfig,
    draw_scenario,
    finish_result,
    memoise_encode,
    memoise_sign_bytes,
    memoise_verify,
    schedule_crashes,
)
from consensus.wal import FinalizedMarker, WalRecord, compute_poa_replay, decode_record, encode_record
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import ZERO_HASH, Header, new_header

CORE_SLOT_S = 1  # the cores' slot duration; virtual time is scaled so a slot lasts slot_ms
SYNC_BATCH = 32
GAS_LIMIT = 30_000_000
BASE_FEE = 10**9

_LOGGED = (FinalityVoteReceived, JustificationReceived)  # the WAL's inputs (and own votes, as received)
# Heap item tags.
SLOT, BLOCK, VOTE, REQUEST, BATCH, SYNC, CRASH, RESTART, JUSTIFY = range(9)
RESEND_VOTES = 16  # a stalled node re-sends at most its last 16 votes per slot
KEPT_PROOFS = 256  # finality proofs a node keeps for peers catching up

GENESIS = new_header(parent_hash=ZERO_HASH, number=0, timestamp=0, gas_limit=GAS_LIMIT, base_fee_per_gas=BASE_FEE)


@contextlib.contextmanager
def verified_poa_signature_cache() -> Iterator[dict[tuple[bytes, bytes], bytes]]:
    """Memoise seal and vote signature recovery (``consensus.poa.messages.verify``) and the
    finality votes' sign bytes and encoding.

    Every node verifies every seal and vote: N identical ECDSA recoveries each, and as many
    RLP encodings of the same sign bytes (and of the vote, for its WAL). The memos return
    exactly what ``verify``, ``FinalityVote.sign_bytes`` and ``FinalityVote.encode`` return
    (a vote is frozen and hashable); a failing signature is not cached. Undone on exit.
    """
    original = poa_messages.verify
    original_sign_bytes = FinalityVote.sign_bytes
    original_encode = FinalityVote.encode
    cache: dict[tuple[bytes, bytes], bytes] = {}
    poa_messages.verify = memoise_verify(original, cache)
    FinalityVote.sign_bytes = memoise_sign_bytes(original_sign_bytes)  # type: ignore[method-assign]
    FinalityVote.encode = memoise_encode(original_encode)  # type: ignore[method-assign]
    try:
        yield cache
    finally:
        poa_messages.verify = original
        FinalityVote.sign_bytes = original_sign_bytes  # type: ignore[method-assign]
        FinalityVote.encode = original_encode  # type: ignore[method-assign]


def build_header(parent_hash: bytes, number: int, slot: int, author: bytes, tag: bytes = b"") -> Header:
    """The simulator's block: deterministic, distinct per (number, author, tag)."""
    return new_header(parent_hash=parent_hash, number=number, timestamp=slot * CORE_SLOT_S, gas_limit=GAS_LIMIT,
                      base_fee_per_gas=BASE_FEE, coinbase=author,
                      state_root=keccak256(rlp.encode([number, author, tag])))


class PoaNode:
    __slots__ = ("index", "signer", "address", "role", "core", "crashed", "incarnation", "sign_state", "store",
                 "finalized", "fin_number", "fin_hash", "proofs", "orphans", "wanted", "echoed", "my_votes",
                 "fin_at_slot", "wal")

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
        self.proofs: list[tuple[int, tuple[FinalityVote, ...]]] = []  # (finalized number, its proof), ascending
        self.my_votes: dict[int, FinalityVote] = {}  # this node's votes by target, above its finalized number
        self.fin_at_slot = -1
        # The WAL of an honest authority (encoded ``consensus.wal`` records): survives crashes.
        self.wal: list[bytes] | None = [] if role == HONEST else None
        # Lost on a crash: orphans by parent hash, parents asked for (hash -> peer asked).
        self.orphans: dict[bytes, dict[bytes, tuple[Header, Seal]]] = {}
        self.wanted: dict[bytes, int] = {}
        self.echoed: set[tuple] = set()  # equivocating voters: (link, half) already echoed

    def header(self, block_hash: bytes) -> Header | None:
        if block_hash == GENESIS.hash:
            return GENESIS
        entry = self.store.get(block_hash)
        return None if entry is None else entry[0]


class PoaSimulation:
    """One seeded run of ``config`` with PoA cores; ``run()`` returns its ``SeedResult``."""

    def __init__(self, config: SimConfig, seed: int, *, relay: bool = True, wal: bool = True) -> None:
        """``wal=False``: restarts ignore the WAL (as before it had one; to show what it changes)."""
        self.config = config
        self.seed = seed
        self.relay = relay
        self.replay_wal = wal
        self.slot_ms = config.slot_ms
        drawn = draw_scenario(config, seed)
        scenario, crashers, signers = drawn.scenario, drawn.crashers, drawn.signers
        self.net, self.byzantine, self.honest = drawn.net, drawn.byzantine, drawn.honest
        self.half_a, self.half_b = drawn.half_a, drawn.half_b
        self.authorities = tuple(s.address for s in signers)
        self.nodes = [PoaNode(i, s, drawn.roles[i]) for i, s in enumerate(signers)]
        self.result = SeedResult(seed)
        self.sealed_at: dict[bytes, int] = {}  # block hash -> virtual ms it was sealed (validity + t0)
        self.final: dict[int, bytes] = {}
        self.forked: set[int] = set()
        self.seals: dict[tuple[bytes, int], bytes] = {}  # (honest author, slot) -> block hash
        self.votes: dict[bytes, list[FinalityVote]] = {}  # honest authority -> every vote it signed
        self.top_link: dict[bytes, tuple[int, int]] = {}  # honest authority -> (highest source, highest target)
        self.half_of = {i: (0 if i in self.half_a else 1) for i in self.honest}
        self.done = 0
        horizon = max(CRASH_EARLIEST_MS + 1, config.blocks * self.slot_ms)
        self.heal_ms = schedule_crashes(self.net, scenario, crashers, horizon, self.net.last_heal_ms,
                                        crash_tag=CRASH, restart_tag=RESTART)
        self.deadline = self.heal_ms + config.effective_budget_ms
        self._records: dict[object, bytes] = {}  # WAL memo: event -> record bytes
        self._decoded: dict[bytes, WalRecord] = {}  # and back

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
                if node.role == EQUIVOCATE and node.core is not None:
                    self._echo(node, item[1], item[2])
            elif tag == REQUEST:
                self._answer_request(node, item[1], item[2])
            elif tag == BATCH:
                for header, seal in item[2]:
                    if node.core is None:
                        break
                    self._receive_block(node, header, seal, item[1])
                if item[3] and node.core is not None:
                    self._feed(node, JustificationReceived(item[3]))
            elif tag == JUSTIFY:
                self.result.delivered += 1
                self._feed(node, JustificationReceived(item[2]))
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
        # Then the finalized block's stored proof, as the node driver does: its last link
        # justifies a child, where the last vote before the crash may start.
        if node.proofs and node.proofs[-1][0] == root.number and node.core is not None:
            self._feed(node, JustificationReceived(node.proofs[-1][1]), replaying=True)
        # Then the votes logged since (the WAL compacted to those above the finalized block).
        if node.wal:
            logged = self._compact_wal(node, root.number)
            if not self.replay_wal:
                node.wal = []  # lost, as without a WAL
                logged = ()
            for event in logged:
                if node.core is None:
                    break
                self._feed(node, event, replaying=True)

    def _feed(self, node: PoaNode, event: object, *, replaying: bool = False) -> bool:
        core = node.core
        assert core is not None
        wal = node.wal
        if wal is not None and not replaying and type(event) in _LOGGED:
            if not core.holds(event):  # type: ignore[arg-type]  # (a repeat changes nothing: not logged)
                wal.append(self._encode_record(event))  # before handle, as the driver does
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
                if node.wal is not None:  # our vote, after its sign state: counted again on a restart
                    node.wal.append(self._encode_record(FinalityVoteReceived(effect.message)))
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
                    if node.role == HONEST:
                        self._check_proof(node, effect)
                    node.proofs.append((effect.number, tuple(effect.votes)))
                    del node.proofs[:-KEPT_PROOFS]
                self._on_finalized(node, effect.number, effect.block_hash)
                if node.wal is not None:
                    self._compact_wal(node, effect.number)
            elif kind is ReportEvidence:
                pass  # evidence is the PoS issue's; honest double-signs are counted at signing

    def _encode_record(self, record: object) -> bytes:
        """``encode_record``, memoised (every node logs the same votes)."""
        try:
            return self._records[record]
        except KeyError:
            pass
        except TypeError:  # an unhashable field: do not memoise
            return encode_record(record)  # type: ignore[arg-type]
        if len(self._records) > CACHE_LIMIT:
            self._records.clear()
            self._decoded.clear()
        data = self._records[record] = encode_record(record)  # type: ignore[arg-type]
        self._decoded[data] = record  # type: ignore[assignment]  # what decode_record gives back
        return data

    def _decode_record(self, data: bytes) -> WalRecord:
        record = self._decoded.get(data)
        if record is None:
            if len(self._decoded) > CACHE_LIMIT:
                self._decoded.clear()
            record = self._decoded[data] = decode_record(data)
        return record

    def _compact_wal(self, node: PoaNode, number: int) -> tuple:
        """Keep the marker of ``number`` and the logged votes above it; returns those votes."""
        assert node.wal is not None
        marker = FinalizedMarker(number)
        kept = compute_poa_replay([*(self._decode_record(data) for data in node.wal), marker])
        node.wal = [self._encode_record(marker), *(self._encode_record(event) for event in kept)]
        return kept

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
            self._check_vote(node, vote)
        node.my_votes[vote.target_number] = vote
        item = (VOTE, node.index, vote)
        send = self.net.send
        for dst in range(self.config.validators):
            if dst != node.index:
                send(node.index, dst, item)

    def _check_vote(self, node: PoaNode, vote: FinalityVote) -> None:
        """An honest authority's new vote neither doubles nor surrounds nor is surrounded by an earlier one."""
        signed = self.votes.setdefault(node.address, [])
        top = self.top_link.get(node.address)
        if top is None or (vote.source_number >= top[0] and vote.target_number > top[1]):
            # At or above every earlier source, above every earlier target: it can neither
            # double nor surround (the usual case; the scan below is for the rest).
            signed.append(vote)
            self.top_link[node.address] = (vote.source_number, vote.target_number)
            return
        self.top_link[node.address] = (max(top[0], vote.source_number), max(top[1], vote.target_number))
        for earlier in signed:
            if earlier.is_double_vote(vote):
                what = f"double finality vote at target {vote.target_number}"
            elif earlier.surrounds(vote) or vote.surrounds(earlier):
                what = (f"surround vote {earlier.source_number}->{earlier.target_number} and "
                        f"{vote.source_number}->{vote.target_number}")
            else:
                continue
            self.result.honest_double_signs += 1
            self.result.problems.append(f"honest {what}: validator {node.index} (t={self.net.now} ms)")
            break
        signed.append(vote)

    def _check_proof(self, node: PoaNode, effect: Finalized) -> None:
        """The votes of ``Finalized`` prove it from the node's previous finalized block, without the core."""
        assert node.core is not None
        try:
            validate_finality_proof(chain_id=CHAIN_ID, validators=node.core.validators, root_number=node.fin_number,
                                    root_hash=node.fin_hash, finalized_number=effect.number,
                                    finalized_hash=effect.block_hash, votes=effect.votes, get_header=node.header)
        except ConsensusError as exc:
            self.result.safety_violations += 1
            self.result.problems.append(f"proof: validator {node.index} finalized {effect.number} with a proof "
                                        f"that does not check ({exc.reason}; t={self.net.now} ms)")

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
        """Finality did not move for a slot: re-send our votes and justification, ask a peer for finality.

        Votes are sent once and the network loses some, and a byzantine authority shows its
        votes to some nodes only; as GRANDPA's gossip and catch-up do, a stalled node repeats
        to every peer its recent votes and the votes that justify its highest justified block
        (``PoaCore.get_justification``), and asks one peer (round-robin) for the finality it
        lacks (the peer answers with its proofs, ``_answer_sync``).
        """
        n = self.config.validators
        if n == 1:
            return
        assert node.core is not None
        send = self.net.send
        justification = node.core.get_justification()
        for number in sorted(node.my_votes)[-RESEND_VOTES:]:
            item = (VOTE, node.index, node.my_votes[number])
            for dst in range(n):
                if dst != node.index:
                    send(node.index, dst, item)
        if justification:
            item = (JUSTIFY, node.index, justification)
            for dst in range(n):
                if dst != node.index:
                    send(node.index, dst, item)
        peer = (node.index + 1 + slot % (n - 1)) % n
        send(node.index, peer, (SYNC, node.index, node.fin_number))

    def _answer_sync(self, node: PoaNode, peer: int, their_fin: int) -> None:
        """Send ``peer`` our finality proofs above ``their_fin``, the blocks they name, and our justification.

        Each proof chains from our previous finalized block, so the first one counts from the
        peer's (a link from below its root counts, see ``consensus.poa.core``) and each next
        one from the block the one before finalized. The proofs whose finalizing link targets
        a block at most ``SYNC_BATCH`` above ``their_fin`` go (at least one), with the blocks up
        to that target (at most ``SYNC_BATCH``, oldest first; a gap is filled by block requests).
        Then the votes that justify our highest justified block, which may be news to the peer.
        """
        assert node.core is not None
        proofs = [votes for number, votes in node.proofs if number > their_fin] if node.fin_number > their_fin else []
        chain = []
        if proofs:
            limit = their_fin + SYNC_BATCH
            proofs = [proofs[0]] + [p for p in proofs[1:] if max(v.target_number for v in p) <= limit]
            top = max(proofs[-1], key=lambda v: v.target_number).target_hash
            current = node.store.get(top)
            while current is not None and current[0].number > their_fin and len(chain) < SYNC_BATCH:
                chain.append(current)
                current = node.store.get(current[0].parent_hash)
            chain.reverse()
        # Consecutive proofs share a link; the justification may repeat the last proof's.
        votes = tuple(dict.fromkeys([*(v for p in proofs for v in p), *node.core.get_justification()]))
        if chain or votes:
            self.net.send(node.index, peer, (BATCH, node.index, tuple(chain), votes))

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
        """Seal two headers in our slot, one for each half, each on that half's head.

        The adversary reads one live honest member's fork-choice head per half (as the bft
        adversary reads round state), so once the halves' justifications differ, each half's
        fork grows and can be finalized there before gossip heals the split.
        """
        core = node.core
        assert core is not None
        for tag, targets in ((b"A", self.half_a), (b"B", self.half_b)):
            head = self._half_head(targets, core.get_head())
            if head.timestamp // CORE_SLOT_S >= slot:
                continue
            header = build_header(head.hash, head.number + 1, slot, node.address, tag)
            seal = seal_header(header, node.signer, chain_id=CHAIN_ID, validators=core.validators,
                               slot_duration=CORE_SLOT_S)
            self.sealed_at.setdefault(header.hash, self.net.now)
            item = (BLOCK, node.index, header, seal)
            for dst in targets:
                if dst != node.index:
                    self.net.send(node.index, dst, item)
            if header.hash not in node.store and node.core is not None:
                self._import(node, header, seal, head)

    def _half_head(self, targets: list[int], default: Header) -> Header:
        for i in targets:
            peer = self.nodes[i]
            if peer.role == HONEST and peer.core is not None:
                return peer.core.get_head()
        return default

    def _echo(self, node: PoaNode, src: int, vote: FinalityVote) -> None:
        """Sign the link an honest authority voted for and send it to that authority's half only."""
        half = self.half_of.get(src)
        if half is None or (vote.link, half) in node.echoed:
            return
        node.echoed.add((vote.link, half))
        echo = FinalityVote(*vote.link, node.address).sign(node.signer, CHAIN_ID)
        item = (VOTE, node.index, echo)
        for dst in (self.half_a if half == 0 else self.half_b):
            if dst != node.index:
                self.net.send(node.index, dst, item)


def run_poa_seed(config: SimConfig, seed: int) -> SeedResult:
    with verified_poa_signature_cache():
        return PoaSimulation(config, seed).run()


__all__ = ["GENESIS", "PoaNode", "PoaSimulation", "build_header", "run_poa_seed", "verified_poa_signature_cache"]
