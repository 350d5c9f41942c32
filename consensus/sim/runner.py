"""Run N Tendermint cores over a ``SimNetwork`` and check safety and liveness as they go.

One ``Simulation`` is one seed. Every honest validator is a real ``TendermintCore`` with its
own ``Signer``; the simulator is its driver: it performs the core's effects (broadcasts
through the network, timeouts into the heap, blocks on request, the persisted sign state
kept as a restart would find it) and feeds the core what arrives.

Checks, as the effects happen (so after every delivered message, at O(1) cost):
- agreement: no two honest validators commit different block hashes at one height;
- validity: a committed hash is a block some proposer built (or a byzantine one sent) for
  that height;
- no honest double-sign: every message an honest validator signs is kept by
  (validator, height, round, kind), and a second one with another block hash is counted.
At the end, liveness: every honest validator committed ``blocks`` heights before the
virtual-time budget, counted from the last heal (end of the last partition or last restart).

What the simulator adds around the cores, as a real node's network layer would:
- **blocks** are abstract: ``RequestBlock(h, r)`` is answered at once with
  ``keccak(rlp([h, r, proposer]))``; every block is valid.
- **future-height messages** (the core raises ``WrongHeight``) are buffered (up to
  ``FUTURE_WINDOW`` heights ahead) and fed again when the node reaches that height.
- **gossip tick**: every ``TICK_MS`` a node whose (height, round, step) has not moved since
  the last tick sends each peer at its height the messages of that height the peer lacks
  (its own and others'), as CometBFT's gossip routines do from their peers' ``HasVote``
  announcements (the simulator reads the peer's state instead; what is sent still crosses
  the lossy network). The paper assumes such gossip; without it one lost vote, or a
  byzantine vote shown to half the network, stalls a round for ever.
- **catch-up** (block sync, in short): on the same tick a stalled node sends a peer at a
  lower height the decided proposals and commit precommits it lacks, and asks one peer at
  a higher height for them. The receiver feeds them to its core; a core that cannot decide
  from them (it holds the other proposal of an equivocating proposer) is moved on with
  ``Start(h + 1)`` once the simulator has verified the commit certificate.
- **crash and restart**: a crashed node loses its core, buffers and timers; it keeps its
  committed heights, its last ``PersistSignState`` and its **WAL** (``consensus.wal``
  records, as bytes, in memory): every input is appended before the core handles it, every
  message it signs when it is broadcast, and an ``EndHeight`` marker replaces the log when
  it commits a height (so the log holds one height). A restarted core is rebuilt with that
  sign state at the last committed height + 1 and fed the log's inputs after the marker, in
  order: it is back at the round and step it left, with its locks. Its ``SignGuard``
  refuses every step it signed before, and its own message, next in the log, is counted
  instead (and gossiped again from ``known``). A restarted validator is therefore not a
  fault: ``--crash`` may take any honest validators, on top of ``--byzantine`` (< n/3).
- **byzantine** validators: ``silent`` ones never send; ``equivocate`` ones follow the rounds
  with a signer-less core (so they know the height and round) and sign by hand: as proposer
  two blocks, one to each half of the honest validators; as voter a prevote and a precommit
  for one value to one half and for another (the other block, or nil) to the other half.
"""
from __future__ import annotations

import contextlib
import math
import random
import shlex
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import rlp

import consensus.messages as messages_module
from consensus.bft.core import (
    BlockReady,
    Broadcast,
    Commit,
    PersistSignState,
    ProposalReceived,
    ReportEvidence,
    RequestBlock,
    ScheduleTimeout,
    SignState,
    Start,
    TendermintCore,
    TimeoutConfig,
    TimeoutFired,
    VoteReceived,
)
from consensus.errors import ConsensusError, WrongHeight
from consensus.keys import Signer
from consensus.messages import Proposal, Vote
from consensus.sim.network import Partition, SimNetwork
from consensus.types import Validator, ValidatorSet, VoteType
from consensus.wal import EndHeight, compute_last_signed, compute_replay, decode_record, encode_record
from runtime.primitives.hashing import keccak256

CHAIN_ID = 4242
TICK_MS = 500
FUTURE_WINDOW = 3
CATCHUP_BATCH = 32
CATCHUP_MIN_INTERVAL_MS = 500
CRASH_EARLIEST_MS = 200
DOWN_MIN_MS = 1000
DOWN_MAX_MS = 5000
BYZANTINE_MODES = ("equivocate", "silent")

# Heap item tags (ints: compared never, dispatched often).
MSG, RESEND, TIMEOUT, BLOCK, TICK, CATCHUP, CATCHUP_REQ, CRASH, RESTART = range(9)

HONEST, EQUIVOCATE, SILENT = "honest", "equivocate", "silent"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything that, with a seed, determines a run.

    ``byzantine`` validators are the faults: safety and liveness hold for fewer than a third
    (the suites that break agreement on purpose use more). ``crash`` picks that many of the
    honest ones to crash and restart from their WAL; they are not faults, so any number of
    honest validators may crash (liveness is counted from the last restart).
    """

    validators: int = 4
    byzantine: int = 0
    byzantine_mode: str = "equivocate"
    crash: int = 0
    partitions: tuple[Partition, ...] = ()
    drop: float = 0.0
    duplicate: float = 0.0
    delay_ms: tuple[int, int] = (25, 75)
    blocks: int = 10
    budget_ms: int | None = None  # default: 60 s + 2 s per block, after the last heal
    timeouts: TimeoutConfig = TimeoutConfig()
    slot_ms: int = 1000  # poa only: the slot duration (block interval) in virtual ms

    def __post_init__(self) -> None:
        if self.validators < 1:
            raise ValueError("need at least one validator")
        if not (0 <= self.byzantine <= self.validators):
            raise ValueError("--byzantine must be between 0 and --validators")
        if not (0 <= self.crash <= self.validators - self.byzantine):
            raise ValueError("--crash must be between 0 and the number of honest validators")
        if self.byzantine_mode not in BYZANTINE_MODES:
            raise ValueError(f"byzantine mode must be one of {', '.join(BYZANTINE_MODES)}")
        if self.blocks < 1:
            raise ValueError("--blocks must be >= 1")
        if self.slot_ms < 1:
            raise ValueError("--slot-ms must be >= 1")

    @property
    def effective_budget_ms(self) -> int:
        return self.budget_ms if self.budget_ms is not None else 60_000 + 2_000 * self.blocks


@dataclass(slots=True)
class SeedResult:
    seed: int
    safety_violations: int = 0
    honest_double_signs: int = 0
    min_final_height: int = 0
    live: bool = False
    finality_ms: list[int] = field(default_factory=list)
    messages: int = 0
    delivered: int = 0
    virtual_ms: int = 0
    events: int = 0
    restarts: int = 0  # crashed validators brought back (so a crash test can check it crashed)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.live and not self.safety_violations and not self.honest_double_signs


# --- keys and the signature cache -------------------------------------------------------

_SIGNERS: list[Signer] = []


def make_signers(n: int) -> list[Signer]:
    """``n`` deterministic validator keys, sorted by address (index = position in the set)."""
    while len(_SIGNERS) < n:
        _SIGNERS.append(Signer(keccak256(b"chameleon sim validator %d" % len(_SIGNERS))))
    return sorted(_SIGNERS[:n], key=lambda s: s.address)


CACHE_LIMIT = 200_000  # entries per memo before it is cleared (a memo may forget, never lie)


def memoise_verify(verify: Callable[[bytes, bytes], bytes], cache: dict[tuple[bytes, bytes], bytes]) -> Callable[[bytes, bytes], bytes]:
    """``verify``, remembering each (sign bytes, signature) that verified: it returns
    exactly what ``verify`` returns, and a failing signature is not cached (it fails again)."""

    def cached_verify(sign_bytes: bytes, signature: bytes) -> bytes:
        key = (sign_bytes, signature)
        address = cache.get(key)
        if address is None:
            if len(cache) > CACHE_LIMIT:
                cache.clear()
            address = cache[key] = verify(sign_bytes, signature)
        return address

    return cached_verify


def schedule_crashes(net: SimNetwork, scenario: random.Random, crashers: Sequence[int], horizon: int, heal_ms: int,
                     *, crash_tag: int, restart_tag: int) -> int:
    """Crash each of ``crashers`` at a seeded time before ``horizon`` and restart it later
    (each simulation has its own heap tags); returns when the last restart heals."""
    for i in crashers:
        at = scenario.randint(CRASH_EARLIEST_MS, horizon)
        back = at + scenario.randint(DOWN_MIN_MS, DOWN_MAX_MS)
        net.schedule(at, i, (crash_tag,))
        net.schedule(back, i, (restart_tag,))
        heal_ms = max(heal_ms, back)
    return heal_ms


def finish_result(result: SeedResult, net: SimNetwork, events: int, heights: list[int], blocks: int,
                  deadline: int, reached: str) -> SeedResult:
    """Fill in the counters and the liveness verdict of one seed's result."""
    result.events = events
    result.messages = net.sent
    result.virtual_ms = net.now
    result.min_final_height = min(heights, default=0)
    result.live = result.min_final_height >= blocks
    if not result.live:
        result.problems.append(f"liveness: honest validators {reached} {heights}, {blocks} needed by t={deadline} ms")
    return result


@dataclass
class Scenario:
    """What a seed draws before a simulation starts: the network, who is byzantine, who
    crashes, and the two halves an equivocator shows different messages to."""

    scenario: random.Random  # drawn from again for the crash times
    net: SimNetwork
    signers: list[Signer]
    byzantine: list[int]
    honest: list[int]
    crashers: list[int]
    roles: list[str]
    half_a: list[int]
    half_b: list[int]


def draw_scenario(config: SimConfig, seed: int) -> Scenario:
    """The same draws, in the same order, for every engine (so a seed means one scenario)."""
    n = config.validators
    scenario = random.Random(f"chameleon-sim/{seed}/scenario")
    net = SimNetwork(random.Random(f"chameleon-sim/{seed}/network"), n, delay_ms=config.delay_ms,
                     drop=config.drop, duplicate=config.duplicate, partitions=config.partitions)
    signers = make_signers(n)
    byzantine = set(scenario.sample(range(n), config.byzantine))
    honest = [i for i in range(n) if i not in byzantine]
    crashers = sorted(scenario.sample(honest, config.crash))
    role = EQUIVOCATE if config.byzantine_mode == "equivocate" else SILENT
    roles = [role if i in byzantine else HONEST for i in range(n)]
    half = len(honest) // 2
    return Scenario(scenario, net, signers, sorted(byzantine), honest, crashers, roles,
                    honest[:half] + sorted(byzantine), honest[half:])


def memoise_encode(original: Callable) -> Callable:
    """``original(message)`` memoised on the (frozen, hashable) message: the same bytes back."""
    memo: dict = {}

    def encode(self):  # type: ignore[no-untyped-def]
        try:
            return memo[self]
        except KeyError:
            pass
        except TypeError:  # an unhashable field (a malformed message): do not memoise
            return original(self)
        if len(memo) > CACHE_LIMIT:
            memo.clear()
        data = memo[self] = original(self)
        return data
    return encode


def memoise_sign_bytes(original: Callable) -> Callable:
    """``original(message, chain_id)`` memoised on (message, chain id)."""
    memo: dict = {}

    def sign_bytes(self, chain_id):  # type: ignore[no-untyped-def]
        key = (self, chain_id)
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable field (a malformed message): do not memoise
            return original(self, chain_id)
        if len(memo) > CACHE_LIMIT:
            memo.clear()
        data = memo[key] = original(self, chain_id)
        return data
    return sign_bytes


@contextlib.contextmanager
def verified_signature_cache() -> Iterator[dict[tuple[bytes, bytes], bytes]]:
    """Memoise signature recovery and message encoding while simulating.

    Every core validates every message it receives: N cores, one vote, N identical RLP
    encodings (twice: the size check and the sign bytes) and N identical ECDSA recoveries.
    Profiled at 100 validators, RLP encoding was ~75% of the run. Inside this context:
    - ``consensus.messages.verify`` is memoised on (sign bytes, signature), so it returns
      exactly what ``verify`` would; a signature that fails is not cached and fails again;
    - ``Proposal``/``Vote`` ``encode`` and ``sign_bytes`` are memoised on the (frozen,
      hashable) message itself, so they return the same bytes.
    Both are undone on exit; the core and the message code are unchanged.
    """
    original_verify = messages_module.verify
    originals = {(cls, name): getattr(cls, name) for cls in (Proposal, Vote) for name in ("encode", "sign_bytes")}
    cache: dict[tuple[bytes, bytes], bytes] = {}

    cached_verify = memoise_verify(original_verify, cache)

    messages_module.verify = cached_verify
    for (cls, name), original in originals.items():
        setattr(cls, name, memoise_encode(original) if name == "encode" else memoise_sign_bytes(original))
    try:
        yield cache
    finally:
        messages_module.verify = original_verify
        for (cls, name), original in originals.items():
            setattr(cls, name, original)


def nearest_rank(sorted_values: Sequence[int], percent: float) -> int:
    """The nearest-rank percentile of sorted ints (0 for none): an int, so output is exact."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- one validator as the simulator drives it -------------------------------------------


class SimNode:
    __slots__ = ("index", "signer", "address", "role", "core", "crashed", "incarnation", "sign_state",
                 "wal", "committed", "decided", "proposals", "known", "future", "height_seen", "advancing",
                 "last_tick_state", "last_push", "last_request", "acted")

    def __init__(self, index: int, signer: Signer, role: str) -> None:
        self.index = index
        self.signer = signer
        self.address = signer.address
        self.role = role
        self.core: TendermintCore | None = None
        self.crashed = False
        self.incarnation = 0
        self.sign_state: SignState | None = None  # what PersistSignState last wrote: survives crashes
        # The WAL of an honest validator (encoded ``consensus.wal`` records): survives crashes.
        # Byzantine ones never crash and keep none.
        self.wal: list[bytes] | None = [encode_record(EndHeight(0))] if role == HONEST else None
        self.committed: dict[int, bytes] = {}  # survives crashes (the block store)
        self.decided: dict[int, tuple[Proposal, tuple[Vote, ...]]] = {}  # for catch-up; survives
        self.proposals: dict[tuple[int, int], Proposal] = {}  # first proposal per (h, r), as the core keeps
        # Messages of the current height this node signed or its core accepted, for gossip.
        self.known: dict[Proposal | Vote, None] = {}
        self.future: dict[int, list[tuple[int | None, object]]] = {}
        self.height_seen = 0
        self.advancing = False
        self.last_tick_state: tuple[int, int, int] | None = None
        self.last_push: dict[int, tuple[int, int]] = {}
        self.last_request: dict[int, tuple[int, int]] = {}
        self.acted: set[tuple[int, int, str]] = set()

    @property
    def last_committed(self) -> int:
        return max(self.committed, default=0)


class Simulation:
    """One seeded run of ``config``; ``run()`` returns its ``SeedResult``."""

    def __init__(self, config: SimConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        drawn = draw_scenario(config, seed)
        scenario, crashers, signers = drawn.scenario, drawn.crashers, drawn.signers
        self.net, self.byzantine, self.honest = drawn.net, drawn.byzantine, drawn.honest
        self.half_a, self.half_b = drawn.half_a, drawn.half_b
        self.validator_set = ValidatorSet([Validator(s.address, 1) for s in signers])
        self.index_of = {s.address: i for i, s in enumerate(signers)}
        self.nodes = [SimNode(i, s, drawn.roles[i]) for i, s in enumerate(signers)]
        self.result = SeedResult(seed)
        self.valid_blocks: dict[bytes, int] = {}  # block hash -> height it was built for
        self.final: dict[int, bytes] = {}  # height -> the hash honest nodes committed first
        self.forked: set[int] = set()
        self.signed: dict[tuple[bytes, int, int, int], bytes | None] = {}
        self.height_t0: dict[int, int] = {}
        self.done = 0
        self._records: dict[object, bytes] = {}  # event -> its WAL record (see _encode_record)
        horizon = max(CRASH_EARLIEST_MS + 1, config.blocks * 3 * config.delay_ms[1])
        self.heal_ms = schedule_crashes(self.net, scenario, crashers, horizon, self.net.last_heal_ms,
                                        crash_tag=CRASH, restart_tag=RESTART)
        self.deadline = self.heal_ms + config.effective_budget_ms

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> SeedResult:
        net = self.net
        for node in self.nodes:
            if node.role != SILENT:
                self._boot(node, 1)
        target = len(self.honest)
        nodes = self.nodes
        events = 0
        while self.done < target:
            entry = net.pop()
            if entry is None or net.now > self.deadline:
                break
            events += 1
            dst, item = entry
            node = nodes[dst]
            tag = item[0]
            if tag == MSG or tag == RESEND:
                if node.core is None:
                    continue
                self.result.delivered += 1
                message = item[2]
                if type(message) is Vote:
                    event: object = VoteReceived(message)
                else:
                    event = ProposalReceived(message, message.block_hash in self.valid_blocks)
                self._feed(node, event, item[1])
            elif tag == TIMEOUT or tag == BLOCK:
                if node.core is not None and item[1] == node.incarnation:
                    self._feed(node, item[2], None)
            elif tag == TICK:
                if node.core is not None and item[1] == node.incarnation:
                    self._tick(node)
            elif tag == CATCHUP:
                if node.core is not None:
                    self._apply_catchup(node, item[2])
            elif tag == CATCHUP_REQ:
                if node.core is not None:
                    self._push_catchup(node, item[1], item[2], force=True)
            elif tag == CRASH:
                self._crash(node)
            elif tag == RESTART:
                self._restart(node)
        return self._finish(events)

    def _finish(self, events: int) -> SeedResult:
        heights = [self.nodes[i].last_committed for i in self.honest]
        return finish_result(self.result, self.net, events, heights, self.config.blocks, self.deadline, "reached heights")

    # -- feeding a core ------------------------------------------------------------------

    def _boot(self, node: SimNode, height: int) -> None:
        node.core = TendermintCore(chain_id=CHAIN_ID, validators=self.validator_set,
                                   signer=node.signer if node.role == HONEST else None,
                                   timeouts=self.config.timeouts, sign_state=node.sign_state)
        node.height_seen = 0
        node.last_tick_state = None
        self.net.schedule(TICK_MS + node.index % TICK_MS, node.index, (TICK, node.incarnation))
        self._feed(node, Start(height), None)

    def _feed(self, node: SimNode, event: object, src: int | None, *, replaying: bool = False) -> None:
        core = node.core
        assert core is not None
        wal = node.wal
        if wal is not None and not replaying and type(event) is not Start:
            wal.append(self._encode_record(event))  # before handle, as a node's WAL
        try:
            effects = core.handle(event)  # type: ignore[arg-type]
        except WrongHeight as exc:
            if exc.height > exc.expected:
                if exc.height <= exc.expected + FUTURE_WINDOW:
                    node.future.setdefault(exc.height, []).append((src, event))
            return
        except ConsensusError:
            return  # dropped with a reason, as the driver would
        kind = type(event)
        if kind is ProposalReceived:
            p = event.proposal
            node.proposals.setdefault((p.height, p.round), p)
            node.known[p] = None
        elif kind is VoteReceived:
            node.known[event.vote] = None
        if effects:
            self._perform(node, effects)
        if node.role == EQUIVOCATE:
            self._adversary(node)
        if core.height != node.height_seen and not node.advancing:
            self._advance(node)

    def _encode_record(self, event: object) -> bytes:
        """``encode_record``, memoised: every validator logs the same delivered message."""
        memo = self._records
        try:
            return memo[event]
        except KeyError:
            pass
        if len(memo) > CACHE_LIMIT:
            memo.clear()
        data = memo[event] = encode_record(event)  # type: ignore[arg-type]
        return data

    def _perform(self, node: SimNode, effects: list) -> None:
        net = self.net
        for effect in effects:
            kind = type(effect)
            if kind is Broadcast:
                self._broadcast(node, effect.message)
            elif kind is ScheduleTimeout:
                net.schedule(effect.delay_ms, node.index,
                             (TIMEOUT, node.incarnation, TimeoutFired(effect.height, effect.round, effect.step)))
            elif kind is PersistSignState:
                node.sign_state = SignState(effect.height, effect.round, effect.step)
            elif kind is RequestBlock:
                block = keccak256(rlp.encode([effect.height, effect.round, node.index]))
                self.valid_blocks[block] = effect.height
                self.height_t0.setdefault(effect.height, net.now)
                net.schedule(0, node.index, (BLOCK, node.incarnation, BlockReady(effect.height, effect.round, block)))
            elif kind is Commit:
                self._on_commit(node, effect)
            elif kind is ReportEvidence:
                pass  # evidence is the PoS issue's; honest double-signs are counted at signing

    def _advance(self, node: SimNode) -> None:
        """The core reached a new height: forget the old one, feed what was buffered for this one."""
        node.advancing = True
        try:
            while node.core is not None and node.core.height != node.height_seen:
                h = node.core.height
                node.height_seen = h
                node.known = {m: None for m in node.known if m.height >= h}
                node.proposals = {k: p for k, p in node.proposals.items() if k[0] >= h}
                for stale in [k for k in node.future if k < h]:
                    del node.future[stale]
                for src, event in node.future.pop(h, ()):
                    if node.core is None or node.core.height != h:
                        break
                    self._feed(node, event, src)
        finally:
            node.advancing = False

    def _broadcast(self, node: SimNode, message: Proposal | Vote) -> None:
        if node.role == HONEST:
            kind = 0 if type(message) is Proposal else int(message.type)
            key = (node.address, message.height, message.round, kind)
            previous = self.signed.get(key, message.block_hash)
            if key in self.signed and previous != message.block_hash:
                self.result.honest_double_signs += 1
                self.result.problems.append(
                    f"honest double-sign: validator {node.index} at height {message.height} round "
                    f"{message.round} kind {kind} (t={self.net.now} ms)")
            self.signed[key] = message.block_hash
        if type(message) is Proposal:
            node.proposals.setdefault((message.height, message.round), message)
            record = ProposalReceived(message, True)
        else:
            record = VoteReceived(message)
        if node.wal is not None:
            node.wal.append(self._encode_record(record))  # replayed after a crash in place of the refused step
        node.known[message] = None
        self._send_all(node.index, (MSG, node.index, message))

    def _send_all(self, src: int, item: tuple) -> None:
        send = self.net.send
        for dst in range(self.config.validators):
            if dst != src:
                send(src, dst, item)

    def _on_commit(self, node: SimNode, commit: Commit, proposal: Proposal | None = None) -> None:
        h = commit.height
        node.committed[h] = commit.block_hash
        if node.wal is not None:
            node.wal = [encode_record(EndHeight(h))]  # the height is done: the log starts over
        if proposal is None:
            proposal = node.proposals.get((h, commit.round))
        if proposal is not None and proposal.block_hash == commit.block_hash:
            node.decided[h] = (proposal, commit.precommits)
        if node.role != HONEST:
            return
        now = self.net.now
        r = self.result
        if self.valid_blocks.get(commit.block_hash) != h:
            r.safety_violations += 1
            r.problems.append(f"validity: validator {node.index} committed an unproposed block at height {h}")
        first = self.final.setdefault(h, commit.block_hash)
        if first != commit.block_hash and h not in self.forked:
            self.forked.add(h)
            r.safety_violations += 1
            r.problems.append(f"agreement: two blocks committed at height {h} "
                              f"(validator {node.index} at t={now} ms)")
        t0 = self.height_t0.get(h)
        if t0 is not None:
            r.finality_ms.append(now - t0)
        if h == self.config.blocks:
            self.done += 1

    # -- gossip, catch-up, crashes -------------------------------------------------------

    def _tick(self, node: SimNode) -> None:
        """Gossip for a stalled node: the same (height, round, step) as a tick ago.

        As CometBFT's gossip routines, which know from their peers' ``NewRoundStep`` and
        ``HasVote`` announcements what each peer lacks, the simulator looks at each peer
        (an oracle standing in for those announcements; what it sends still crosses the
        lossy network):
        - a peer at the same height gets the messages of this height it lacks: everything of
          this round and the last, and the prevotes of the rounds a proposal or our valid
          value leans on (``pol_round``, ``valid_round``). Relaying others' messages, not just
          our own, is the paper's gossip assumption: a byzantine validator that shows a polka
          to half the network must not keep it from the other half;
        - a peer at a lower height gets the decided heights it lacks (catch-up);
        - a peer at a higher height is asked for the heights we lack.
        """
        core = node.core
        assert core is not None
        state = (core.height, core.round, int(core.step))
        if state == node.last_tick_state:
            h, r = core.height, core.round
            lean_on = {core.valid_round, core.locked_round}
            lean_on.update(m.pol_round for m in node.known if type(m) is Proposal and m.round >= r - 1)
            relay = [m for m in node.known
                     if m.round >= r - 1 or (type(m) is Vote and m.type == VoteType.PREVOTE and m.round in lean_on)]
            send = self.net.send
            asked = False
            for peer in self.nodes:
                other = peer.core
                if peer is node or other is None or not other.started:
                    continue
                if other.height == h:
                    known = peer.known
                    for message in relay:
                        if message not in known:
                            send(node.index, peer.index, (RESEND, node.index, message))
                elif other.height < h:
                    self._push_catchup(node, peer.index, other.height, force=False)
                elif peer.role == HONEST and not asked:
                    asked = True  # one peer per tick is enough to ask
                    self._request_catchup(node, peer.index)
        node.last_tick_state = state
        self.net.schedule(TICK_MS, node.index, (TICK, node.incarnation))

    def _request_catchup(self, node: SimNode, peer: int) -> None:
        assert node.core is not None
        h, now = node.core.height, self.net.now
        last = node.last_request.get(peer)
        if last is not None and last[0] == h and now - last[1] < CATCHUP_MIN_INTERVAL_MS:
            return
        node.last_request[peer] = (h, now)
        self.net.send(node.index, peer, (CATCHUP_REQ, node.index, h))

    def _push_catchup(self, node: SimNode, peer: int, height: int, *, force: bool) -> None:
        """Send ``peer`` the decided heights from ``height`` on (proposal + commit precommits)."""
        if height not in node.decided:
            return
        now = self.net.now
        last = node.last_push.get(peer)
        if not force and last is not None and last[0] == height and now - last[1] < CATCHUP_MIN_INTERVAL_MS:
            return
        node.last_push[peer] = (height, now)
        entries = []
        for h in range(height, height + CATCHUP_BATCH):
            entry = node.decided.get(h)
            if entry is None:
                break
            entries.append(entry)
        self.net.send(node.index, peer, (CATCHUP, node.index, tuple(entries)))

    def _apply_catchup(self, node: SimNode, entries: tuple) -> None:
        """Feed decided heights to the core; if it cannot decide from them, sync past them.

        First the core's own path: the proposal and the commit precommits as messages. A core
        that already holds another proposal for that round (an equivocating proposer sent it
        a different block) keeps the first and cannot decide; then the simulator does what
        block sync does: it verifies the commit certificate itself (>2/3 power of valid
        precommits for the block), records the commit and moves the core on with ``Start``.
        """
        for proposal, precommits in entries:
            core = node.core
            if core is None or proposal.height > core.height:
                break
            h = proposal.height
            if h < core.height:
                continue
            self._feed(node, ProposalReceived(proposal, proposal.block_hash in self.valid_blocks), None)
            for vote in precommits:
                if node.core is None or node.core.height != h:
                    break
                self._feed(node, VoteReceived(vote), None)
            if node.core is not None and node.core.height == h and self._valid_certificate(proposal, precommits):
                self._on_commit(node, Commit(h, precommits[0].round, proposal.block_hash, precommits),
                                proposal=proposal)
                self._feed(node, Start(h + 1), None)

    def _valid_certificate(self, proposal: Proposal, precommits: tuple[Vote, ...]) -> bool:
        power = 0
        seen: set[bytes] = set()
        for vote in precommits:
            if (vote.type != VoteType.PRECOMMIT or vote.height != proposal.height
                    or vote.block_hash != proposal.block_hash or vote.validator in seen
                    or vote.round != precommits[0].round):
                return False
            try:
                if vote.recover_signer(CHAIN_ID) != vote.validator:
                    return False
            except ConsensusError:
                return False
            seen.add(vote.validator)
            power += self.validator_set.power_of(vote.validator)
        return self.validator_set.has_quorum(power)

    def _crash(self, node: SimNode) -> None:
        node.crashed = True
        node.core = None
        node.incarnation += 1  # timers of the old incarnation are ignored
        node.future.clear()
        node.known.clear()
        node.proposals.clear()

    def _restart(self, node: SimNode) -> None:
        """Rebuild the core from the sign state and the WAL: ``Start`` the height after the
        last ``EndHeight``, then every input logged since, in order (nothing is logged again)."""
        node.crashed = False
        self.result.restarts += 1
        assert node.wal is not None  # only honest validators crash
        replay = compute_replay(decode_record(data) for data in node.wal)
        assert replay is not None and replay.height == node.last_committed + 1, "the WAL ends where the store does"
        last = compute_last_signed(replay.inputs, node.address)
        if last is not None and (node.sign_state is None or last > node.sign_state):
            node.sign_state = last  # never in the simulator (a crash falls between events); as the node does
        self._boot(node, replay.height)
        for event in replay.inputs:
            if node.core is None or node.core.height != replay.height:
                break
            self._feed(node, event, None, replaying=True)

    # -- byzantine equivocation ----------------------------------------------------------

    def _byzantine_blocks(self, height: int, round: int, proposer: int) -> tuple[bytes, bytes]:
        a = keccak256(rlp.encode([height, round, proposer, b"A"]))
        b = keccak256(rlp.encode([height, round, proposer, b"B"]))
        self.valid_blocks[a] = height
        self.valid_blocks[b] = height
        return a, b

    def _send_to(self, node: SimNode, targets: Sequence[int], message: Proposal | Vote) -> None:
        item = (MSG, node.index, message)
        for dst in targets:
            if dst != node.index:
                self.net.send(node.index, dst, item)

    def _adversary(self, node: SimNode) -> None:
        """Equivocate at the (height, round) the shadow core is in, once per round."""
        core = node.core
        if core is None or not core.started:
            return
        h, r = core.height, core.round
        proposer = self.index_of[self.validator_set.proposer(h, r).address]
        signer = node.signer
        if self.nodes[proposer].role == EQUIVOCATE:
            if (h, r, "vote") in node.acted:
                return
            node.acted.add((h, r, "vote"))
            a, b = self._byzantine_blocks(h, r, proposer)
            if proposer == node.index:
                self.height_t0.setdefault(h, self.net.now)
                self._send_to(node, self.half_a, Proposal(h, r, a, -1, node.address).sign(signer, CHAIN_ID))
                self._send_to(node, self.half_b, Proposal(h, r, b, -1, node.address).sign(signer, CHAIN_ID))
        else:
            p = node.proposals.get((h, r))
            if p is None or (h, r, "vote") in node.acted:
                return
            node.acted.add((h, r, "vote"))
            a, b = p.block_hash, None
        for targets, value in ((self.half_a, a), (self.half_b, b)):
            for vote_type in (VoteType.PREVOTE, VoteType.PRECOMMIT):
                self._send_to(node, targets, Vote(vote_type, h, r, value, node.address).sign(signer, CHAIN_ID))


# --- many seeds ---------------------------------------------------------------------------


ENGINES = ("bft", "poa")


def _simulation_class(engine: str) -> Callable[[SimConfig, int], object]:
    if engine == "bft":
        return Simulation
    if engine == "poa":
        from consensus.sim.poa import PoaSimulation

        return PoaSimulation
    raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")


@contextlib.contextmanager
def _caches() -> Iterator[None]:
    from consensus.sim.poa import verified_poa_signature_cache

    with verified_signature_cache(), verified_poa_signature_cache():
        yield


def run_seed(config: SimConfig, seed: int, *, engine: str = "bft") -> SeedResult:
    cls = _simulation_class(engine)
    with _caches():
        return cls(config, seed).run()  # type: ignore[attr-defined]


def run_seeds(config: SimConfig, seeds: int, first_seed: int = 0,
              on_seed: Callable[[SeedResult], None] | None = None, *, engine: str = "bft") -> list[SeedResult]:
    results = []
    cls = _simulation_class(engine)
    with _caches():
        for seed in range(first_seed, first_seed + seeds):
            result = cls(config, seed).run()  # type: ignore[attr-defined]
            results.append(result)
            if on_seed is not None:
                on_seed(result)
    return results


def summarize(config: SimConfig, results: Sequence[SeedResult], *, engine: str = "bft",
              first_seed: int = 0) -> dict:
    """The report line: the keys issue 4 names, then extras. Only ints, floats and strings
    derived from the runs, so the same arguments give the same line."""
    finality = sorted(ms for r in results for ms in r.finality_ms)
    failed = [r.seed for r in results if not r.ok]
    return {
        "engine": engine,
        "validators": config.validators,
        "byzantine": config.byzantine,
        "seeds": len(results),
        "runs": len(results),
        "safety_violations": sum(r.safety_violations for r in results),
        "honest_double_signs": sum(r.honest_double_signs for r in results),
        "min_final_height": min((r.min_final_height for r in results), default=0),
        "median_time_to_finality_ms": nearest_rank(finality, 50),
        "p99_time_to_finality_ms": nearest_rank(finality, 99),
        "messages": sum(r.messages for r in results),
        "byzantine_mode": config.byzantine_mode,
        "crash": config.crash,
        "drop": config.drop,
        "duplicate": config.duplicate,
        "delay_ms": f"{config.delay_ms[0]}:{config.delay_ms[1]}",
        "partitions": [p.spec for p in config.partitions],
        "blocks": config.blocks,
        "first_seed": first_seed,
        "liveness_failures": sum(1 for r in results if not r.live),
        "failed_seeds": failed,
        "delivered": sum(r.delivered for r in results),
        "virtual_ms": sum(r.virtual_ms for r in results),
        **({"slot_ms": config.slot_ms} if engine == "poa" else {}),
    }


def replay_command(config: SimConfig, seed: int, *, engine: str = "bft") -> str:
    """The command line that runs exactly ``seed`` of ``config`` again."""
    parts = ["chameleon", "simulate", "--engine", engine, "--validators", str(config.validators)]
    if config.byzantine:
        parts += ["--byzantine", str(config.byzantine), "--byzantine-mode", config.byzantine_mode]
    if config.crash:
        parts += ["--crash", str(config.crash)]
    for p in config.partitions:
        parts += ["--partition", p.spec]
    if config.drop:
        parts += ["--drop", repr(config.drop)]
    if config.duplicate:
        parts += ["--duplicate", repr(config.duplicate)]
    parts += ["--delay", f"{config.delay_ms[0]}:{config.delay_ms[1]}", "--blocks", str(config.blocks)]
    if config.budget_ms is not None:
        parts += ["--budget-ms", str(config.budget_ms)]
    if engine == "poa":
        parts += ["--slot-ms", str(config.slot_ms)]
    t = config.timeouts
    if engine == "bft" and t != TimeoutConfig():
        parts += ["--timeout-propose", str(t.propose_ms), "--timeout-prevote", str(t.prevote_ms),
                  "--timeout-precommit", str(t.precommit_ms), "--timeout-delta", str(t.propose_delta_ms)]
    parts += ["--seeds", "1", "--first-seed", str(seed)]
    return " ".join(shlex.quote(part) for part in parts)


__all__ = [
    "BYZANTINE_MODES", "CHAIN_ID", "ENGINES", "SeedResult", "SimConfig", "Simulation", "make_signers", "nearest_rank",
    "replay_command", "run_seed", "run_seeds", "summarize", "verified_signature_cache",
]
