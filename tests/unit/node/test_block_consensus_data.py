"""A bft validator over a real LevelDB chain: each block carries its parent's commit, bound
into its hash; evidence handed to the node is verified, included in one block, and only once."""
from __future__ import annotations

import dataclasses

import pytest

from consensus.block_data import BlockData, validate_block_data
from consensus.engine import Seal
from consensus.evidence import DoubleSign
from consensus.keys import Signer
from consensus.messages import Vote
from consensus.types import VoteType
from node.chain import Chain
from node.evidence_pool import EvidenceRefused
from node.storage import LevelDBStore
from runtime.primitives.hashing import keccak256
from test_engine_driver import KEY, bft_spec, make_driver, run_until


def double_sign(signer: Signer, chain_id: int, height: int = 1) -> DoubleSign:
    """What a second machine running the same validator key would sign."""
    a = Vote(VoteType.PREVOTE, height, 7, keccak256(b"one"), signer.address).sign(signer, chain_id)
    b = Vote(VoteType.PREVOTE, height, 7, keccak256(b"two"), signer.address).sign(signer, chain_id)
    return DoubleSign.from_votes(a, b)


async def test_blocks_carry_the_parents_commit_and_evidence_once(tmp_path):
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(store, bft_spec())
    driver = make_driver(tmp_path, chain)
    evidence = double_sign(Signer(KEY), chain.spec.chain_id)
    assert driver.evidence.add(evidence) == evidence.compute_hash()
    with pytest.raises(EvidenceRefused, match="invalid evidence: votes do not conflict"):
        driver.evidence.add(dataclasses.replace(evidence, vote_b=evidence.vote_a))
    assert await run_until(driver, lambda: chain.head.number >= 4, 20)
    engine = driver.engine
    for number in range(1, chain.head.number + 1):
        block = chain.get_block_by_number(number)
        parent = chain.get_header_by_number(number - 1)
        data = BlockData.decode(block.consensus_data)
        validate_block_data(engine, block.header, parent, data)  # what any importer checks
        if number >= 2:
            assert block.header.extra_data == keccak256(block.consensus_data)
            engine.validate_seal(parent, data.last_commit)  # the parent is final, from this block alone
            assert data.last_commit == Seal.decode(chain.get_seal(parent.hash))
    holders = [n for n in range(1, chain.head.number + 1)
               if evidence in BlockData.decode(chain.get_block_by_number(n).consensus_data).evidence]
    assert holders == [1]
    assert chain.get_evidence_block(evidence.compute_hash()) == 1 and len(driver.evidence) == 0
    with pytest.raises(EvidenceRefused, match="already included in block 1"):
        driver.evidence.add(evidence)
    store.close()
