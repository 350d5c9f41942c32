"""What proves a block, over RPC from a real bft validator: the next block carries its commit
(bound into the hash by extraData), and submitted evidence is included in a block once."""
from __future__ import annotations

import json

import pytest

from consensus.bft.engine import BftEngine
from consensus.block_data import BlockData
from consensus.engine import Seal
from consensus.evidence import DoubleSign
from consensus.keys import Signer
from consensus.messages import Vote
from consensus.types import VoteType
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import decode_header
from tests.e2e.nodes import DEV_CHAIN_ID, DEV_KEYS, RpcFailure
from tests.e2e.test_engines import SECTIONS, wait_for, write_key, write_spec

pytestmark = pytest.mark.e2e
SIGNER = Signer(bytes.fromhex(DEV_KEYS[0][2:]))


def test_commits_ride_in_the_next_block_and_evidence_is_included_once(node_factory, tmp_path):
    spec, key = write_spec(tmp_path, "bft"), write_key(tmp_path)
    node = node_factory("--chain", str(spec), "--validator-key", str(key), command="run", name="bft")
    wait_for(lambda: node.block_number() >= 3)

    # A light client's check, from RPC alone: block 2 proves block 1 final.
    header_1 = decode_header(bytes.fromhex(node.rpc("debug_getRawHeader", "0x1")[2:]))
    assert "0x" + header_1.hash.hex() == node.rpc("eth_getBlockByNumber", "0x1", False)["hash"]
    proof = node.rpc("chameleon_getBlockConsensus", "0x2")
    data = bytes.fromhex(proof["consensusData"][2:])
    assert proof["extraData"] == "0x" + keccak256(data).hex()
    assert node.rpc("eth_getBlockByNumber", "0x2", False)["extraData"] == proof["extraData"]
    engine = BftEngine.from_spec(SECTIONS["bft"], chain_id=DEV_CHAIN_ID)
    commit = Seal.decode(bytes.fromhex(proof["lastCommit"]["raw"][2:]))
    engine.validate_seal(header_1, commit)
    assert BlockData.decode(data).last_commit == commit
    assert proof["lastCommit"]["signatures"][0]["validator"].lower() == "0x" + SIGNER.address.hex()

    # Evidence of a double sign by the validator's key (as a second machine with it would sign).
    a = Vote(VoteType.PREVOTE, 1, 9, keccak256(b"one"), SIGNER.address).sign(SIGNER, DEV_CHAIN_ID)
    b = Vote(VoteType.PREVOTE, 1, 9, keccak256(b"two"), SIGNER.address).sign(SIGNER, DEV_CHAIN_ID)
    evidence = DoubleSign.from_votes(a, b)
    raw = "0x" + evidence.encode().hex()
    assert node.rpc("chameleon_submitEvidence", raw) == "0x" + evidence.compute_hash().hex()

    def holder():
        for n in range(1, node.block_number() + 1):
            listed = node.rpc("chameleon_getBlockConsensus", hex(n))["evidence"]
            if any(e["raw"] == raw for e in listed):
                return n
        return None

    number = wait_for(holder)
    listed = node.rpc("chameleon_getBlockConsensus", hex(number))["evidence"]
    assert [e["kind"] for e in listed] == ["DoubleSign"] and listed[0]["height"] == "0x1"
    with pytest.raises(RpcFailure, match=f"already included in block {number}"):
        node.rpc("chameleon_submitEvidence", raw)
    forged = DoubleSign.from_votes(a, a.__class__(a.type, a.height, a.round, b.block_hash, a.validator, a.signature))
    with pytest.raises(RpcFailure, match="invalid evidence: ") as refused:
        node.rpc("chameleon_submitEvidence", "0x" + forged.encode().hex())
    assert refused.value.code == -32000
    with pytest.raises(RpcFailure, match="invalid evidence: evidence is not an RLP encoding") as malformed:
        node.rpc("chameleon_submitEvidence", "0x0102")
    assert malformed.value.code == -32602
    wait_for(lambda: node.block_number() > number)  # still sealing
    status = node.rpc("chameleon_consensus")
    assert status["engine"] == "bft" and status["validator"].lower() == "0x" + SIGNER.address.hex()
    assert status["validators"] == [{"address": status["validator"], "power": "0x1"}]
    assert int(status["height"], 16) >= int(status["head"]["number"], 16) + 1
    assert status["step"] in ("propose", "prevote", "precommit")
    assert "Traceback" not in node.stderr_text()


def test_a_dev_chain_has_no_evidence_pool(node_factory):
    node = node_factory()
    with pytest.raises(RpcFailure, match="runs no consensus engine"):
        node.rpc("chameleon_submitEvidence", "0x00")
    proof = node.rpc("chameleon_getBlockConsensus", "latest")
    assert proof["engine"] == "dev" and proof["seal"] is None and proof["final"] is True
    status = node.rpc("chameleon_consensus")
    assert status["engine"] == "dev" and status["validators"] == [] and status["head"] == status["finalized"]
    assert json.dumps(proof)
