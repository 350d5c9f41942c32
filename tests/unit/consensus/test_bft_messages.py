"""Consensus messages: canonical bytes, signatures, decoding, and double-sign evidence."""
from __future__ import annotations

import dataclasses

import pytest
import rlp

from bft_harness import BLOCK_A, BLOCK_B, CHAIN_ID, make_signer, make_stubs
from consensus.errors import InvalidEvidence, InvalidSignature, MalformedMessage, OversizedMessage
from consensus.evidence import DoubleSign
from consensus.keys import SECP256K1_N, Signer, verify
from consensus.messages import MAX_MESSAGE_BYTES, Proposal, Vote, decode_message
from consensus.types import VoteType


def test_signer_address_and_recovery():
    signer = make_signer(1)
    signature = signer.sign(b"hello")
    assert len(signature) == 65 and verify(b"hello", signature) == signer.address
    assert verify(b"other", signature) != signer.address
    assert "Signer(0x" in repr(signer) and signer.address.hex() in repr(signer)


def test_verify_rejects_high_s_and_bad_recovery_id():
    signer = make_signer(1)
    sig = signer.sign(b"m")
    s = int.from_bytes(sig[32:64], "big")
    high = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes((sig[64] ^ 1,))
    with pytest.raises(InvalidSignature):
        verify(b"m", high)
    with pytest.raises(InvalidSignature):
        verify(b"m", sig[:64] + b"\x02")
    with pytest.raises(InvalidSignature):
        verify(b"m", b"\x00" * 65)


def test_sign_bytes_bind_chain_and_kind():
    signer = make_signer(2)
    vote = Vote(VoteType.PREVOTE, 1, 0, BLOCK_A, signer.address).sign(signer, CHAIN_ID)
    assert vote.recover_signer(CHAIN_ID) == signer.address
    assert vote.recover_signer(CHAIN_ID + 1) != signer.address  # no replay on another chain
    precommit = dataclasses.replace(vote, type=VoteType.PRECOMMIT)
    assert precommit.recover_signer(CHAIN_ID) != signer.address
    nil = Vote(VoteType.PREVOTE, 1, 0, None, signer.address)
    assert nil.sign_bytes(CHAIN_ID) != vote.sign_bytes(CHAIN_ID)
    with pytest.raises(ValueError):
        Vote(VoteType.PREVOTE, 1, 0, None, b"\x00" * 20).sign(signer, CHAIN_ID)


def test_encode_decode_round_trip():
    signer = make_signer(3)
    messages = [
        Vote(VoteType.PREVOTE, 5, 2, BLOCK_A, signer.address).sign(signer, CHAIN_ID),
        Vote(VoteType.PRECOMMIT, 5, 0, None, signer.address).sign(signer, CHAIN_ID),
        Proposal(5, 3, BLOCK_B, 1, signer.address).sign(signer, CHAIN_ID),
        Proposal(5, 0, BLOCK_B, -1, signer.address).sign(signer, CHAIN_ID),
    ]
    for m in messages:
        data = m.encode()
        assert len(data) <= MAX_MESSAGE_BYTES
        assert decode_message(data) == m


@pytest.mark.parametrize("data", [
    b"", b"\xff\xff", rlp.encode(b"x"), rlp.encode([]), rlp.encode([9, 1, 2]),
    rlp.encode([2, 3, 1, 0, b"", b"\x00" * 20, b""]),       # unknown vote type
    rlp.encode([2, 1, b"\x00\x01", 0, b"", b"\x00" * 20, b""]),  # non-canonical integer
    rlp.encode([1, 1, 0, [b"nested"], 0, b"\x00" * 20, b""]),
])
def test_decode_rejects_malformed(data):
    with pytest.raises(MalformedMessage) as info:
        decode_message(data)
    assert info.value.reason


def test_decode_rejects_oversized():
    with pytest.raises(OversizedMessage) as info:
        decode_message(b"\x00" * (MAX_MESSAGE_BYTES + 1))
    assert info.value.size == MAX_MESSAGE_BYTES + 1


def double_sign_pair():
    validators, stubs = make_stubs([1, 1, 1, 1])
    a = stubs[0].prevote(3, 1, BLOCK_A)
    b = stubs[0].prevote(3, 1, None)
    return validators, stubs, a, b


def test_double_sign_evidence_verifies_and_is_canonical():
    validators, _, a, b = double_sign_pair()
    evidence = DoubleSign.from_votes(a, b)
    assert evidence == DoubleSign.from_votes(b, a)
    evidence.validate(CHAIN_ID, validators)
    assert evidence.verify(CHAIN_ID) and evidence.validator == a.validator and evidence.height == 3
    decoded = DoubleSign.decode(evidence.encode())
    assert decoded == evidence and decoded.compute_hash() == evidence.compute_hash()
    assert not evidence.verify(CHAIN_ID + 1)  # signatures are bound to the chain


def test_double_sign_evidence_rejects_non_conflicts():
    validators, stubs, a, b = double_sign_pair()
    cases = [
        (a, a),                                        # the same vote twice
        (a, stubs[1].prevote(3, 1, None)),             # two validators
        (a, stubs[0].prevote(3, 2, None)),             # two rounds
        (a, stubs[0].precommit(3, 1, None)),           # two types
        (a, stubs[0].prevote(4, 1, None)),             # two heights
        (a, dataclasses.replace(b, signature=a.signature)),  # forged second signature
    ]
    for first, second in cases:
        evidence = DoubleSign.from_votes(first, second)
        with pytest.raises(InvalidEvidence) as info:
            evidence.validate(CHAIN_ID, validators)
        assert info.value.reason and not evidence.verify(CHAIN_ID)
    canonical = DoubleSign.from_votes(a, b)
    with pytest.raises(InvalidEvidence):
        DoubleSign(canonical.vote_b, canonical.vote_a).validate(CHAIN_ID)
    outsider = Signer(b"\x07" * 32)
    x = Vote(VoteType.PREVOTE, 3, 1, BLOCK_A, outsider.address).sign(outsider, CHAIN_ID)
    y = Vote(VoteType.PREVOTE, 3, 1, BLOCK_B, outsider.address).sign(outsider, CHAIN_ID)
    assert DoubleSign.from_votes(x, y).verify(CHAIN_ID)
    assert not DoubleSign.from_votes(x, y).verify(CHAIN_ID, validators)


def test_double_sign_decode_rejects_garbage():
    _, _, a, _ = double_sign_pair()
    proposal_bytes = Proposal(3, 1, BLOCK_A, -1, a.validator).encode()
    for data in (b"\xc0", rlp.encode([1, a.encode()]), rlp.encode([2, a.encode(), a.encode()]),
                 rlp.encode([1, a.encode(), proposal_bytes]), b"\xff"):
        with pytest.raises(MalformedMessage):
            DoubleSign.decode(data)


def test_mutated_wire_bytes_never_crash_a_core():
    """Random byte flips of valid messages: decode + handle raise only ConsensusError."""
    import random

    from bft_harness import Harness
    from consensus.bft.core import ProposalReceived, VoteReceived
    from consensus.errors import ConsensusError

    h = Harness()
    h.start()
    seeds = [h.stubs[0].prevote(1, 0, BLOCK_A).encode(), h.stubs[1].precommit(1, 0, None).encode(),
             h.stubs[0].propose(1, 0, BLOCK_A).encode()]
    rng = random.Random(4)
    outcomes = set()
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data))
            data[i] = rng.randrange(256)
        try:
            m = decode_message(bytes(data))
            h.feed(VoteReceived(m) if isinstance(m, Vote) else ProposalReceived(m, True))
            outcomes.add("accepted")
        except ConsensusError as exc:
            outcomes.add(type(exc).__name__)
    assert {"MalformedMessage", "InvalidSignature"} <= outcomes
