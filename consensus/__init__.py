"""Consensus engines as sans-IO state machines: ``handle(event) -> list[Effect]``.

Built so far: the engine interface and seals (``engine.py``), the registry (``registry.py``),
Tendermint (``bft/``) and Aura-style PoA with finality votes (``poa/``), with signed
messages and double-sign evidence. Not built yet: the trio driver in ``node/`` that performs
the effects, its WAL, and the chain spec wiring; the dev sealer in ``node/service.py``
still seals every block.
"""
