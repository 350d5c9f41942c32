"""The poa driver's WAL over a real LevelDB chain: a restarted authority gets back the finality
votes it held (its peers' and its own) and reaches the finality it was one vote short of; without
the WAL it cannot.

Three authorities, this node one of them: every link needs all three votes, so the node's own
vote, which its sign state forbids it to sign again, counts only if the log kept it. The other
two are not running: their votes are signed here and fed as gossip would feed them. The
driver runs its slot loop on trio's autojump clock, so a slot (1 s) passes at once.
"""
from __future__ import annotations

import trio

from consensus.keys import Signer
from consensus.poa import FinalityVote, FinalityVoteReceived, JustificationReceived, PoaCore
from consensus.registry import get_engine
from consensus.wal import FinalizedMarker, compute_poa_replay
from node.chain import Chain
from node.consensus_wal import ConsensusWal
from node.dev import dev_keys, dev_spec_json
from node.engine_driver import EngineDriver, load_sign_state
from node.service import Node
from node.storage import LevelDBStore
from node.txpool import TxPool
from runtime.chainspec import parse_chain_spec

KEYS = dev_keys(3)  # ours is the first
GENESIS_OFFSET_S = 3_000  # the virtual clock starts at 0: put the chain at a sensible time


def poa_spec(authorities: int = 3):
    data = dev_spec_json()
    data["name"] = "poa-wal"
    data["consensus"] = {"engine": "poa", "authorities": ["0x" + a.hex() for a, _ in KEYS[:authorities]],
                         "slotDuration": 1}
    return parse_chain_spec(data)


def open_chain(tmp_path) -> Chain:
    return Chain(LevelDBStore(tmp_path / "db"), poa_spec())


def make_driver(tmp_path, chain: Chain) -> EngineDriver:
    spec = chain.spec
    state_path = tmp_path / "consensus" / "sign_state"
    engine = get_engine(spec.consensus, chain_id=spec.chain_id, signer=Signer(KEYS[0][1]),
                        sign_state=load_sign_state(state_path))
    return EngineDriver(Node(chain, TxPool(), automine=False), engine, state_path,
                        clock=lambda: GENESIS_OFFSET_S + trio.current_time())


def peer_vote(chain: Chain, peer: int, source: int, target: int) -> FinalityVote:
    s, t = chain.get_header_by_number(source), chain.get_header_by_number(target)
    return FinalityVote(s.number, s.hash, t.number, t.hash, KEYS[peer][0]).sign(Signer(KEYS[peer][1]),
                                                                                 chain.spec.chain_id)


def link(chain: Chain, source: int, target: int) -> tuple:
    s, t = chain.get_header_by_number(source), chain.get_header_by_number(target)
    return (s.number, s.hash, t.number, t.hash)


async def wait_until(predicate) -> None:
    with trio.fail_after(60):  # virtual seconds
        while not predicate():
            await trio.sleep(0.05)


async def run_one_vote_short(tmp_path) -> tuple[Chain, tuple]:
    """Blocks 1-3 by this node; 1 finalized (links 0->1, 1->2 by all three); the link 2->3 has
    our vote and peer 1's, peer 2's is still to come. Then the driver stops (a crash)."""
    chain = open_chain(tmp_path)
    driver = make_driver(tmp_path, chain)
    async with trio.open_nursery() as nursery:
        await nursery.start(driver.run)
        await wait_until(lambda: chain.head.number >= 1)
        for peer in (1, 2):
            driver.feed(FinalityVoteReceived(peer_vote(chain, peer, 0, 1)))
        await wait_until(lambda: chain.head.number >= 2)
        driver.feed(FinalityVoteReceived(peer_vote(chain, 1, 1, 2)))
        # As a peer may send it: a justification (peer 2's vote rides in it), fed twice (a repeat).
        justification = JustificationReceived((peer_vote(chain, 1, 1, 2), peer_vote(chain, 2, 1, 2)))
        driver.feed(justification)
        driver.feed(justification)
        assert chain.finalized.number == 1
        await wait_until(lambda: chain.head.number >= 3)
        driver.feed(FinalityVoteReceived(peer_vote(chain, 1, 2, 3)))
        held = driver.engine.get_link_votes(link(chain, 2, 3))
        assert {v.validator for v in held} == {KEYS[0][0], KEYS[1][0]}
        nursery.cancel_scope.cancel()
    driver.wal.close()
    chain.store.close()
    return open_chain(tmp_path), held  # a new process, the same files


async def test_a_restarted_authority_replays_the_logged_votes_and_reaches_the_finality(tmp_path, autojump_clock):
    chain, held = await run_one_vote_short(tmp_path)
    # Compacted at finality 1 (nothing at or below it is kept), the repeated justification logged once;
    # our votes are logged as received (signatures are deterministic: signing again gives the same vote).
    records = ConsensusWal(tmp_path / "consensus" / "wal").load().records
    assert records == [
        FinalizedMarker(1),
        FinalityVoteReceived(peer_vote(chain, 0, 1, 2)),  # ours
        FinalityVoteReceived(peer_vote(chain, 1, 1, 2)),
        JustificationReceived((peer_vote(chain, 1, 1, 2), peer_vote(chain, 2, 1, 2))),
        FinalityVoteReceived(peer_vote(chain, 0, 2, 3)),  # ours
        FinalityVoteReceived(peer_vote(chain, 1, 2, 3)),
    ]
    assert compute_poa_replay(records) == tuple(records[1:])
    assert chain.head.number == 3 and chain.finalized.number == 1
    driver = make_driver(tmp_path, chain)
    async with trio.open_nursery() as nursery:
        await nursery.start(driver.run)
        core: PoaCore = driver.engine
        assert core.get_link_votes(link(chain, 2, 3)) == held  # ours and peer 1's, back from the log
        assert core.get_justified().number == 2 and core.finalized_number == 1
        driver.feed(FinalityVoteReceived(peer_vote(chain, 2, 2, 3)))  # the vote it was waiting for
        assert chain.finalized.number == 2 and chain.finalized.hash == chain.get_header_by_number(2).hash
        nursery.cancel_scope.cancel()
    chain.store.close()


async def test_without_the_wal_the_restarted_authority_stays_one_vote_short(tmp_path, autojump_clock):
    chain, _ = await run_one_vote_short(tmp_path)
    (tmp_path / "consensus" / "wal").unlink()
    driver = make_driver(tmp_path, chain)
    async with trio.open_nursery() as nursery:
        await nursery.start(driver.run)
        assert driver.engine.get_link_votes(link(chain, 2, 3)) == ()
        driver.feed(FinalityVoteReceived(peer_vote(chain, 2, 2, 3)))
        # Its own vote for 2->3 is gone and its sign state forbids signing it again.
        assert chain.finalized.number == 1 and driver.engine.sign_state.last_target_number >= 3
        nursery.cancel_scope.cancel()
    chain.store.close()


async def test_the_log_stays_bounded_as_blocks_are_finalized(tmp_path, autojump_clock):
    chain = open_chain(tmp_path)
    driver = make_driver(tmp_path, chain)
    path = tmp_path / "consensus" / "wal"
    async with trio.open_nursery() as nursery:
        await nursery.start(driver.run)
        sizes = []
        for number in range(1, 13):
            await wait_until(lambda: chain.head.number >= number)
            for peer in (1, 2):
                driver.feed(FinalityVoteReceived(peer_vote(chain, peer, number - 1, number)))
            sizes.append(path.stat().st_size)
        nursery.cancel_scope.cancel()
    assert chain.finalized.number == 11
    assert max(sizes[2:]) < 1_000  # the marker and the votes of one link, whatever the height
    chain.store.close()
