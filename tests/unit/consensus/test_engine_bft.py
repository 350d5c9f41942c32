"""The bft adapter: a real commit from 4 Tendermint cores seals a header; bad commits are refused."""
from __future__ import annotations

import dataclasses

import pytest

from bft_harness import CHAIN_ID, make_stubs
from consensus.bft.core import BlockReady, RequestBlock, ScheduleTimeout, SignState, Start, VoteReceived
from consensus.bft.core import ProposalReceived
from consensus.bft.engine import BftEngine, compute_commit_seal
from consensus.engine import BlockImported, Broadcast, Finalized, InvalidSeal, PersistSignState, Tick
from consensus.errors import ConsensusError
from consensus.keys import Signer
from consensus.messages import Proposal, Vote
from consensus.types import Step, VoteType
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import ZERO_HASH, new_header

GENESIS = new_header(parent_hash=ZERO_HASH, number=0, timestamp=0, gas_limit=30_000_000, base_fee_per_gas=10**9)
BLOCK_1 = new_header(parent_hash=GENESIS.hash, number=1, timestamp=1, gas_limit=30_000_000, base_fee_per_gas=10**9)


def run_one_height(n: int = 4):
    """Drive n engines through height 1 on a perfect network; each engine's effects, in order."""
    validators, stubs = make_stubs([1] * n)
    engines = [BftEngine(chain_id=CHAIN_ID, validators=validators, signer=s.signer) for s in stubs]
    log: list[list] = [[] for _ in engines]
    queue = [(i, Start(1)) for i in range(n)]
    while queue:
        i, event = queue.pop(0)
        try:
            effects = engines[i].handle(event)
        except ConsensusError:
            continue  # a late vote for the decided height: the driver drops it
        log[i] += effects
        for e in effects:
            if isinstance(e, RequestBlock) and e.height == 1:
                queue.append((i, BlockReady(1, e.round, BLOCK_1.hash)))
            elif isinstance(e, Broadcast):
                m = e.message
                wrapped = ProposalReceived(m, True) if isinstance(m, Proposal) else VoteReceived(m)
                queue += [(j, wrapped) for j in range(n) if j != i]
    return validators, stubs, engines, log


@pytest.fixture(scope="module")
def committed():
    validators, stubs, engines, log = run_one_height()
    finals = [[e for e in effects if isinstance(e, Finalized)] for effects in log]
    return validators, stubs, engines, log, finals


def test_four_cores_commit_height_one_and_emit_its_seal(committed):
    validators, _, engines, log, finals = committed
    for finalized, engine in zip(finals, engines):
        (f,) = finalized
        assert (f.number, f.block_hash) == (1, BLOCK_1.hash) and f.seal is not None
        assert engine.is_final(1) and not engine.is_final(2)
        assert engine.core.height == 2
    for effects in log:  # every signature is persisted before it is broadcast, in the common effects
        for k, e in enumerate(effects):
            if isinstance(e, Broadcast):
                assert isinstance(effects[k - 1], PersistSignState)
                assert isinstance(effects[k - 1].state, SignState)


def test_a_real_commit_validates(committed):
    validators, _, _, _, finals = committed
    seal = finals[0][0].seal
    follower = BftEngine(chain_id=CHAIN_ID, validators=validators)
    follower.validate_header(BLOCK_1, GENESIS, seal)
    assert seal.round == 0 and len(seal.signatures) >= 3


def test_a_commit_with_two_thirds_or_less_is_refused(committed):
    validators, _, _, _, finals = committed
    seal = finals[0][0].seal
    follower = BftEngine(chain_id=CHAIN_ID, validators=validators)
    short = dataclasses.replace(seal, signatures=seal.signatures[:2])
    with pytest.raises(InvalidSeal, match="2 of 4 voting power, needs more than 2/3"):
        follower.validate_header(BLOCK_1, GENESIS, short)


def test_precommits_for_another_hash_are_refused():
    validators, stubs = make_stubs([1] * 4)
    other = keccak256(b"another block")
    votes = tuple(s.precommit(1, 0, other) for s in stubs)
    seal = compute_commit_seal(validators, 0, votes)
    follower = BftEngine(chain_id=CHAIN_ID, validators=validators)
    with pytest.raises(InvalidSeal, match="not for this block at height 1, round 0"):
        follower.validate_header(BLOCK_1, GENESIS, seal)
    # ... nor a commit of the right hash for another height or round.
    wrong_round = compute_commit_seal(validators, 1, tuple(s.precommit(1, 0, BLOCK_1.hash) for s in stubs))
    with pytest.raises(InvalidSeal, match="not for this block"):
        follower.validate_seal(BLOCK_1, wrong_round)
    follower.validate_seal(BLOCK_1, compute_commit_seal(validators, 0, tuple(s.precommit(1, 0, BLOCK_1.hash) for s in stubs)))


def test_a_commit_from_unknown_validators_or_another_set_is_refused(committed):
    validators, stubs, _, _, finals = committed
    seal = finals[0][0].seal
    outsider = Signer(keccak256(b"outsider"))
    vote = Vote(VoteType.PRECOMMIT, 1, 0, BLOCK_1.hash, outsider.address).sign(outsider, CHAIN_ID)
    forged = dataclasses.replace(seal, signatures=tuple(sorted(seal.signatures + ((outsider.address, vote.signature),))))
    follower = BftEngine(chain_id=CHAIN_ID, validators=validators)
    with pytest.raises(InvalidSeal, match="not a validator"):
        follower.validate_seal(BLOCK_1, forged)
    other_set, _ = make_stubs([1] * 5)
    with pytest.raises(InvalidSeal, match="another validator set"):
        BftEngine(chain_id=CHAIN_ID, validators=other_set).validate_seal(BLOCK_1, seal)
    with pytest.raises(InvalidSeal, match="needs its commit"):
        follower.validate_seal(BLOCK_1, None)
    with pytest.raises(InvalidSeal, match="sorted"):
        follower.validate_seal(BLOCK_1, dataclasses.replace(seal, signatures=tuple(reversed(seal.signatures))))


def test_a_synced_block_with_its_commit_is_final_and_moves_the_core_on(committed):
    validators, stubs, _, _, finals = committed
    seal = finals[0][0].seal
    follower = BftEngine(chain_id=CHAIN_ID, validators=validators, signer=stubs[0].signer)
    assert follower.handle(Tick(123)) == []
    effects = follower.handle(BlockImported(BLOCK_1, seal))
    assert isinstance(effects[0], Finalized) and effects[0].block_hash == BLOCK_1.hash
    assert len(effects[0].votes) == len(seal.signatures)
    assert any(isinstance(e, ScheduleTimeout) and e.height == 2 for e in effects)
    assert follower.is_final(1) and follower.core.height == 2
    assert follower.handle(BlockImported(BLOCK_1, seal)) == []  # already final, already past it


def test_sign_state_round_trips():
    validators, stubs = make_stubs([1] * 4)
    engine = BftEngine(chain_id=CHAIN_ID, validators=validators, signer=stubs[0].signer)
    state = SignState(5, 2, Step.PRECOMMIT)
    assert engine.decode_sign_state(engine.encode_sign_state(state)) == state
