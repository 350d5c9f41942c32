"""Stores address, parameters and weights."""

STORES_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000803")
