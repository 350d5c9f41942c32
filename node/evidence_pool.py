"""Evidence of misbehaviour waiting to be included in a block.

It arrives from this node's own engine (``ReportEvidence``) or from anyone through
``chameleon_submitEvidence`` (CometBFT's ``broadcast_evidence``). Each piece is verified
on entry against the engine's validator set, refused if a block already includes it, and
leaves the pool when a block including it is committed.
"""
from __future__ import annotations

from consensus.engine import ConsensusEngine
from consensus.errors import InvalidEvidence
from consensus.evidence import Evidence
from node import metrics
from node.chain import Chain

MAX_PENDING = 1024


class EvidenceRefused(Exception):
    """Evidence the pool does not take, with the reason."""


class EvidencePool:
    def __init__(self, chain: Chain, engine: ConsensusEngine, *, max_pending: int = MAX_PENDING) -> None:
        self.chain = chain
        self.engine = engine
        self.max_pending = max_pending
        self._pending: dict[bytes, Evidence] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, evidence: Evidence) -> bytes:
        """Verify and keep ``evidence``; returns its hash (adding it twice is harmless).

        Raises:
            EvidenceRefused: it proves nothing, a block already holds it, or the pool is full.
        """
        key = evidence.compute_hash()
        if key in self._pending:
            return key
        included = self.chain.get_evidence_block(key)
        if included is not None:
            raise EvidenceRefused(f"evidence 0x{key.hex()} is already included in block {included}")
        try:
            evidence.validate(self.engine.chain_id, self.engine.validators)
        except InvalidEvidence as exc:
            raise EvidenceRefused(f"invalid evidence: {exc.reason}") from None
        if len(self._pending) >= self.max_pending:
            raise EvidenceRefused("evidence pool is full")
        self._pending[key] = evidence
        metrics.EVIDENCE_PENDING.set(len(self._pending))
        return key

    def pending(self) -> list[Evidence]:
        return list(self._pending.values())

    def remove(self, hashes) -> None:
        for key in hashes:
            self._pending.pop(key, None)
        metrics.EVIDENCE_PENDING.set(len(self._pending))
