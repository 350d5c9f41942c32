"""Consensus engines (PoA, PoS, BFT) as sans-IO state machines: not built yet (the dev sealer lives in node/service.py)."""
