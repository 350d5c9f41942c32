"""Escrow address, parameters and weights."""

ESCROW_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000802")
