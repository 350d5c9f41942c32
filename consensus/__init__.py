"""Consensus engines as sans-IO state machines: ``handle(event) -> list[Effect]``.

Built so far (issue 4, step 1):
- ``types``     validators, ``ValidatorSet`` (quorum arithmetic, weighted round-robin proposer),
                ``Step``, ``VoteType``;
- ``messages``  ``Proposal``, ``Vote``: canonical sign bytes, wire encoding, ``validate_*``;
- ``keys``      ``Signer`` and ``verify`` (secp256k1 over keccak256, recoverable);
- ``evidence``  ``DoubleSign``, verifiable by any node from the evidence alone;
- ``errors``    ``ConsensusError`` and its subclasses, each with a ``reason``;
- ``bft.core``  ``TendermintCore``: Algorithm 1 of arXiv:1807.04938, with a ``SignGuard``.

The dev sealer still lives in node/service.py; PoA, the simulator and the trio driver come next.
This package imports ``runtime`` only, never ``node``, ``network`` or ``bridge``.
"""
