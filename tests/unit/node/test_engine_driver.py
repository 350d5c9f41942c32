"""The consensus driver over a real LevelDB chain: a validator killed between signing and
committing a height resumes it from its WAL (and without the WAL, it would stall)."""
from __future__ import annotations


import trio

from consensus.engine import Finalized
from consensus.keys import Signer
from consensus.registry import get_engine
from node.chain import Chain
from node.dev import dev_keys, dev_spec_json
from node.engine_driver import EngineDriver, load_sign_state
from node.service import Node
from node.storage import LevelDBStore
from node.txpool import TxPool
from runtime.chainspec import parse_chain_spec

ADDRESS, KEY = dev_keys(1)[0]


class Crash(Exception):
    pass


class CrashBeforeCommit(EngineDriver):
    """Dies after everything for ``height`` was signed and logged, before the block is stored."""

    def __init__(self, *args, height: int, **kw) -> None:
        super().__init__(*args, **kw)
        self.crash_height = height

    def _perform(self, effect) -> None:
        if isinstance(effect, Finalized) and effect.number == self.crash_height:
            raise Crash(effect.block_hash)
        super()._perform(effect)


def bft_spec():
    data = dev_spec_json()
    data["name"] = "bft-wal"
    data["consensus"] = {"engine": "bft", "validators": ["0x" + ADDRESS.hex()], "blockTime": 0,
                         "timeouts": {"proposeMs": 300, "prevoteMs": 300, "precommitMs": 300}}
    return parse_chain_spec(data)


def make_driver(tmp_path, chain, cls=EngineDriver, **kw):
    spec = chain.spec
    state_path = tmp_path / "consensus" / "sign_state"
    engine = get_engine(spec.consensus, chain_id=spec.chain_id, signer=Signer(KEY), sign_state=load_sign_state(state_path))
    return cls(Node(chain, TxPool(), automine=False), engine, state_path, block_time=0, **kw)


async def run_until(driver, predicate, seconds: float) -> bool:
    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            await nursery.start(driver.run)
            while not predicate():
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()
        return True
    return False


async def crash_at_height_3(tmp_path):
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(store, bft_spec())
    try:
        await run_until(make_driver(tmp_path, chain, CrashBeforeCommit, height=3), lambda: False, 10)
    except* Crash as group:
        leaf = group
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        crashed_hash = leaf.args[0]
    else:
        raise AssertionError("the driver did not reach height 3")
    assert chain.head.number == 2
    assert load_sign_state(tmp_path / "consensus" / "sign_state")
    return store, chain, crashed_hash


async def test_restart_resumes_the_height_from_the_wal(tmp_path):
    store, chain, crashed_hash = await crash_at_height_3(tmp_path)
    store.close()
    chain = Chain(LevelDBStore(tmp_path / "db"), bft_spec())  # a new process, the same files
    assert await run_until(make_driver(tmp_path, chain), lambda: chain.head.number >= 4, 10)
    assert chain.get_header_by_number(3).hash == crashed_hash  # the very block it had signed
    assert chain.get_seal(crashed_hash) is not None
    chain.store.close()


async def test_without_the_wal_the_restarted_validator_cannot_sign_the_height(tmp_path):
    # The check above can fail: the sign state forbids signing round 0 again, and one
    # validator is all the voting power, so without its logged votes nothing moves.
    store, chain, _ = await crash_at_height_3(tmp_path)
    (tmp_path / "consensus" / "wal").unlink()
    assert not await run_until(make_driver(tmp_path, chain), lambda: chain.head.number >= 3, 1.5)
    store.close()
