"""A block's consensus data: the parent's commit and evidence, checked by the engine."""
from __future__ import annotations

import dataclasses

import pytest
import rlp

from bft_harness import CHAIN_ID, make_stubs
from consensus.block_data import (
    MAX_EVIDENCE_PER_BLOCK,
    BlockData,
    InvalidBlockData,
    compose_block_data,
    decode_evidence,
    validate_block_data,
)
from consensus.bft.engine import BftEngine, compute_commit_seal
from consensus.errors import MalformedMessage
from consensus.evidence import DoubleSign
from consensus.poa.core import PoaCore
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import ZERO_HASH, new_header

GENESIS = new_header(parent_hash=ZERO_HASH, number=0, timestamp=0, gas_limit=30_000_000, base_fee_per_gas=10**9)
BLOCK_1 = new_header(parent_hash=GENESIS.hash, number=1, timestamp=1, gas_limit=30_000_000, base_fee_per_gas=10**9)
BLOCK_2 = new_header(parent_hash=BLOCK_1.hash, number=2, timestamp=2, gas_limit=30_000_000, base_fee_per_gas=10**9)


@pytest.fixture
def bft():
    validators, stubs = make_stubs([1] * 4)
    engine = BftEngine(chain_id=CHAIN_ID, validators=validators)
    commit = compute_commit_seal(validators, 0, tuple(s.precommit(1, 0, BLOCK_1.hash) for s in stubs[:3]))
    double = DoubleSign.from_votes(stubs[1].prevote(1, 0, BLOCK_1.hash), stubs[1].prevote(1, 0, keccak256(b"other")))
    return engine, stubs, commit, double


def test_round_trip_and_empty_encoding(bft):
    engine, _, commit, double = bft
    assert BlockData().encode() == b"" and BlockData.decode(b"") == BlockData()
    data = compose_block_data(engine, BLOCK_1, commit, [double])
    assert BlockData.decode(data.encode()) == data
    assert decode_evidence(double.encode()) == double


def test_a_bft_block_carries_its_parents_commit(bft):
    engine, _, commit, double = bft
    validate_block_data(engine, BLOCK_2, BLOCK_1, compose_block_data(engine, BLOCK_1, commit, [double]))
    # Block 1's parent is genesis, final by definition: no commit to carry.
    assert compose_block_data(engine, GENESIS, None).last_commit is None
    validate_block_data(engine, BLOCK_1, GENESIS, BlockData())
    with pytest.raises(InvalidBlockData, match="does not carry the commit of its parent"):
        validate_block_data(engine, BLOCK_2, BLOCK_1, BlockData())


def test_a_short_or_foreign_commit_is_refused(bft):
    engine, stubs, commit, _ = bft
    short = dataclasses.replace(commit, signatures=commit.signatures[:2])
    with pytest.raises(InvalidBlockData, match="parent's commit it carries is invalid: .*needs more than 2/3"):
        validate_block_data(engine, BLOCK_2, BLOCK_1, BlockData(short))
    other = compute_commit_seal(engine.validators, 0, tuple(s.precommit(1, 0, keccak256(b"x")) for s in stubs))
    with pytest.raises(InvalidBlockData, match="invalid"):
        validate_block_data(engine, BLOCK_2, BLOCK_1, BlockData(other))


def test_bad_evidence_is_refused(bft):
    engine, stubs, commit, double = bft
    forged = dataclasses.replace(double, vote_b=dataclasses.replace(double.vote_b, signature=double.vote_a.signature))
    with pytest.raises(InvalidBlockData, match="evidence 0: "):
        validate_block_data(engine, BLOCK_2, BLOCK_1, BlockData(commit, (forged,)))
    with pytest.raises(InvalidBlockData, match="included twice"):
        validate_block_data(engine, BLOCK_2, BLOCK_1, BlockData(commit, (double, double)))
    later = DoubleSign.from_votes(stubs[1].prevote(9, 0, BLOCK_1.hash), stubs[1].prevote(9, 0, None))
    with pytest.raises(InvalidBlockData, match="from height 9, above the block's 2"):
        validate_block_data(engine, BLOCK_2, BLOCK_1, BlockData(commit, (later,)))


def test_a_poa_block_carries_no_commit(bft):
    _, stubs, commit, double = bft
    poa = PoaCore(chain_id=CHAIN_ID, authorities=[s.address for s in stubs])
    assert compose_block_data(poa, BLOCK_1, commit, [double]).last_commit is None
    with pytest.raises(InvalidBlockData, match="carries no parent commit"):
        validate_block_data(poa, BLOCK_2, BLOCK_1, BlockData(commit))


def test_evidence_is_capped_and_in_hash_order(bft):
    engine, stubs, commit, _ = bft
    many = [DoubleSign.from_votes(stubs[0].prevote(1, r, BLOCK_1.hash), stubs[0].prevote(1, r, None))
            for r in range(MAX_EVIDENCE_PER_BLOCK + 3)]
    data = compose_block_data(engine, BLOCK_1, commit, many)
    assert len(data.evidence) == MAX_EVIDENCE_PER_BLOCK
    hashes = [e.compute_hash() for e in data.evidence]
    assert hashes == sorted(hashes)


@pytest.mark.parametrize("raw, reason", [
    (b"\x01\x02", "not an RLP encoding"),
    (bytes.fromhex("c3010203"), "block consensus data is \\[last commit"),
    (rlp.encode([b"", [rlp.encode([b"\x09", b"a", b"b"])]]), "unknown evidence kind 9"),
    (rlp.encode([b"", [b"\x01\x02"]]), "evidence is not an RLP encoding"),
])
def test_malformed_data_is_refused_with_a_reason(raw, reason):
    with pytest.raises(MalformedMessage, match=reason):
        BlockData.decode(raw)
