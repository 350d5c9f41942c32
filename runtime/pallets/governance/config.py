"""Governance address, parameters and weights."""

GOVERNANCE_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000804")
