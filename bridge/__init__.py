"""Relayers and bridge contracts: not built yet."""
