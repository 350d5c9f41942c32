"""Tendermint BFT: a sans-IO core (``core.py``); the trio driver lives in ``node/``."""
