"""Block time 0 on the driver: the proposer leaves the other tasks a gap between heights and
yields between building a block and signing it; a networked follower yields between
executing a proposed block and feeding it to its core, and still follows the chain."""
from __future__ import annotations

import trio

from consensus.keys import Signer
from consensus.registry import get_engine
from node import engine_driver
from node.chain import Chain
from node.dev import dev_keys, dev_spec_json
from node.engine_driver import MIN_BUILD_DELAY_S, EngineDriver, load_sign_state
from node.engine_network import CONSENSUS_TOPIC, NetworkedDriver
from node.gossip_messages import check_consensus_message
from node.service import Node
from node.storage import LevelDBStore
from node.txpool import TxPool
from runtime.chainspec import parse_chain_spec

ADDRESS, KEY = dev_keys(1)[0]


def bft_spec():
    data = dev_spec_json()
    data["name"] = "bft-zero"
    data["consensus"] = {"engine": "bft", "validators": ["0x" + ADDRESS.hex()], "blockTime": 0,
                         "timeouts": {"proposeMs": 300, "prevoteMs": 300, "precommitMs": 300}}
    return parse_chain_spec(data)


def make_driver(directory, cls=EngineDriver, *, key=KEY):
    chain = Chain(LevelDBStore(directory / "db"), bft_spec())
    state_path = directory / "consensus" / "sign_state"
    engine = get_engine(chain.spec.consensus, chain_id=chain.spec.chain_id,
                        signer=Signer(key) if key is not None else None, sign_state=load_sign_state(state_path))
    return cls(Node(chain, TxPool(), automine=False), engine, state_path, block_time=0)


async def test_the_proposer_leaves_a_gap_between_heights_and_yields_after_building(tmp_path):
    driver = make_driver(tmp_path)
    built_at: list[float] = []
    ticks_at_build: list[int] = []
    ticks = 0
    build = driver.node.build

    def timed_build(**kw):
        built_at.append(trio.current_time())
        ticks_at_build.append(ticks)
        return build(**kw)

    driver.node.build = timed_build

    async def ticker():  # stands for the network and RPC tasks
        nonlocal ticks
        while True:
            ticks += 1
            await trio.sleep(0)

    with trio.move_on_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(driver.run)
            nursery.start_soon(ticker)
            while driver.chain.head.number < 6:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert driver.chain.head.number >= 6
    gaps = [b - a for a, b in zip(built_at, built_at[1:])]
    assert gaps and min(gaps) >= MIN_BUILD_DELAY_S * 0.9, gaps
    # The other task ran between one block's build and the next.
    assert all(b > a for a, b in zip(ticks_at_build, ticks_at_build[1:])), ticks_at_build
    driver.chain.store.close()


async def test_the_floor_is_for_block_time_zero_only(tmp_path, monkeypatch):
    driver = make_driver(tmp_path)
    started: list[float] = []

    async def answer(height, round_, delay):
        started.append(delay)

    monkeypatch.setattr(driver, "_answer_request", answer)
    driver._clock = lambda: float(driver.chain.head.timestamp)  # at the head's time
    async with trio.open_nursery() as nursery:
        driver._nursery = nursery
        driver._perform(engine_driver.bft.RequestBlock(1, 0))
        driver.block_time = 3600.0
        driver._perform(engine_driver.bft.RequestBlock(1, 0))
    # (trio starts the two tasks in either order)
    # Block time 0: the floor; a block time above 0: the head's timestamp decides, as before.
    assert sorted(started) == [MIN_BUILD_DELAY_S, 3600.0]
    driver.chain.store.close()


async def test_a_networked_follower_executes_then_feeds_each_proposal(tmp_path):
    # The validator's messages go to a follower (no key) through on_consensus_async, as the
    # p2p glue hands them over; the follower commits the very same blocks.
    validator = make_driver(tmp_path / "validator", NetworkedDriver)
    follower = make_driver(tmp_path / "follower", NetworkedDriver, key=None)
    inbox_send, inbox_receive = trio.open_memory_channel(1000)

    def send(topic, data):
        if topic == CONSENSUS_TOPIC:
            inbox_send.send_nowait(data)

    validator.send = send

    async def deliver():
        async for data in inbox_receive:
            await follower.on_consensus_async(check_consensus_message(data, follower.engine))

    with trio.move_on_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(follower.run)
            nursery.start_soon(deliver)
            await nursery.start(validator.run)
            while follower.chain.head.number < 4:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert follower.chain.head.number >= 4
    for number in range(1, 5):
        assert follower.chain.get_header_by_number(number).hash == validator.chain.get_header_by_number(number).hash
        assert follower.chain.get_seal(follower.chain.get_header_by_number(number).hash) is not None
    validator.chain.store.close()
    follower.chain.store.close()
