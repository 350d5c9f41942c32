"""The chameleon_ namespace (consensus as a user sees it) and geth's debug_getRawHeader."""
from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from consensus.block_data import BlockData, decode_evidence
from consensus.engine import ConsensusEngine, Seal
from consensus.errors import ConsensusError
from node.evidence_pool import EvidencePool, EvidenceRefused
from node.rpc.encode import d, q
from node.rpc.errors import EXECUTION_ERROR, RpcError, invalid_params
from node.rpc.eth import EthApi
from node.rpc.params import parse_block_id, parse_data
from runtime.pallets import PALLETS, compute_abi, compute_solidity_interface
from runtime.pallets.framework import get_parameter, get_paused
from runtime.primitives.header import encode_header


def encode_seal(seal: Seal) -> dict[str, Any]:
    return {
        "engine": seal.engine,
        "validatorSetHash": d(seal.validator_set_hash),
        "round": q(seal.round),
        "signatures": [{"validator": to_checksum_address(a), "signature": d(s)} for a, s in seal.signatures],
        "raw": d(seal.encode()),
    }


def encode_evidence(evidence) -> dict[str, Any]:
    raw = evidence.encode()
    return {
        "kind": type(evidence).__name__,
        "validator": to_checksum_address(evidence.validator),
        "height": q(evidence.height),
        "hash": d(evidence.compute_hash()),
        "raw": d(raw),
    }


class ChameleonApi:
    def __init__(self, eth: EthApi, engine_name: str, evidence: EvidencePool | None = None,
                 engine: ConsensusEngine | None = None) -> None:
        self.eth = eth
        self.chain = eth.chain
        self.engine_name = engine_name
        self.evidence = evidence
        self.engine = engine

    def methods(self) -> dict[str, Any]:
        return {
            "chameleon_consensus": self.chameleon_consensus,
            "chameleon_getBlockConsensus": self.chameleon_getBlockConsensus,
            "chameleon_submitEvidence": self.chameleon_submitEvidence,
            "chameleon_pallets": self.chameleon_pallets,
            "debug_getRawHeader": self.debug_getRawHeader,
        }

    async def chameleon_pallets(self) -> list[dict[str, Any]]:
        """The native pallets: name, address, ABI and Solidity interface (as `chameleon pallets abi`
        writes them), whether governance paused it, and its parameters at the head."""
        state = self.chain.state_at(self.chain.head)
        return [
            {"name": p.name, "address": to_checksum_address(p.address), "abi": compute_abi(p),
             "interface": compute_solidity_interface(p), "paused": get_paused(state, p),
             "parameters": {
                 name: {"value": q(get_parameter(state, p, name)), "default": q(decl.default),
                        "minimum": q(decl.minimum), "maximum": q(decl.maximum), "doc": decl.doc}
                 for name, decl in sorted(p.parameters.items())
             }}
            for p in PALLETS
        ]

    async def chameleon_consensus(self) -> dict[str, Any]:
        """Where consensus stands: engine, height and round being decided, validators, finality."""
        chain = self.chain
        head, finalized = chain.head, chain.finalized
        out: dict[str, Any] = {
            "engine": self.engine_name,
            "head": {"number": q(head.number), "hash": d(head.hash)},
            "finalized": {"number": q(finalized.number), "hash": d(finalized.hash)},
            "height": q(head.number + 1),
            "round": None,
            "step": None,
            "validators": [],
            "validator": None,
        }
        engine = self.engine
        if engine is None:
            return out
        out["validators"] = [{"address": to_checksum_address(v.address), "power": q(v.power)}
                             for v in engine.validators]
        if engine.signer is not None and engine.signer.address in engine.validators:
            out["validator"] = to_checksum_address(engine.signer.address)
        core = getattr(engine, "core", None)  # bft: the Tendermint core's height, round, step
        if core is not None and getattr(core, "started", False):
            out["height"], out["round"], out["step"] = q(core.height), q(core.round), core.step.name.lower()
        return out

    async def debug_getRawHeader(self, block: Any = "latest") -> str:
        header = self.eth._header(parse_block_id(block, 0), 0)
        return d(encode_header(header))

    async def chameleon_getBlockConsensus(self, block: Any = "latest") -> dict[str, Any]:
        """What proves a block: the seal stored beside it, the parent's commit and the
        evidence it carries (bound into its hash by ``extraData``), and its finality."""
        header = self.eth._header(parse_block_id(block, 0), 0)
        chain = self.chain
        stored = chain.get_block_by_hash(header.hash)
        data = BlockData.decode(stored.consensus_data) if stored is not None else BlockData()
        seal = chain.get_seal(header.hash)
        justification = chain.get_justification(header.hash)
        return {
            "engine": self.engine_name,
            "number": q(header.number),
            "hash": d(header.hash),
            "extraData": d(header.extra_data),
            "final": header.number <= chain.finalized.number,
            "seal": None if seal is None else encode_seal(Seal.decode(seal)),
            "lastCommit": None if data.last_commit is None else encode_seal(data.last_commit),
            "evidence": [encode_evidence(e) for e in data.evidence],
            "consensusData": d(stored.consensus_data) if stored is not None and stored.consensus_data else None,
            "justification": None if justification is None else d(justification),
        }

    async def chameleon_submitEvidence(self, raw: Any) -> str:
        """Verify evidence of misbehaviour and keep it for the next block; returns its hash."""
        if self.evidence is None:
            raise RpcError(EXECUTION_ERROR, f"this node runs no consensus engine (engine {self.engine_name!r})")
        data = parse_data(raw, 0, what="evidence")
        try:
            evidence = decode_evidence(data)
        except ConsensusError as exc:
            raise invalid_params(f"invalid evidence: {exc.reason}") from None
        try:
            return d(self.evidence.add(evidence))
        except EvidenceRefused as exc:
            raise RpcError(EXECUTION_ERROR, str(exc)) from None
