"""An in-memory chain for the WASM VM tests: the pallet harness plus deploys.

Gas is free here (base fee 0, price 0), so balances move only by value.
"""
from __future__ import annotations

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from tests.unit.pallets.harness import Runtime
from vm import evm

GAS = 10_000_000


def compute_error_reason(output: bytes) -> str | None:
    """The string of ``Error(string)`` revert data, or None."""
    if output[:4] != bytes.fromhex("08c379a0"):
        return None
    return abi_decode(["string"], output[4:])[0]


class Chain(Runtime):
    def deploy(self, init_code: bytes, sender: bytes | None = None, value: int = 0, gas: int = GAS) -> evm.Outcome:
        outcome = evm.call(self.state, sender=sender or self.accounts[0], to=None, data=init_code, value=value,
                           gas=gas, max_fee_per_gas=0, max_priority_fee_per_gas=0)
        self._reopen()
        return outcome

    def deploy_ok(self, init_code: bytes, ctor: bytes = b"", **kwargs) -> bytes:
        outcome = self.deploy(init_code + ctor, **kwargs)
        assert outcome.success, outcome
        return outcome.contract_address

    def send(self, to: bytes, data: bytes = b"", value: int = 0, gas: int = GAS, sender: bytes | None = None) -> evm.Outcome:
        return self.raw_call(sender or self.accounts[0], to, data, value, gas)

    def storage(self, address: bytes, slot: int) -> int:
        return self.state.get_storage(address, slot)


def compute_calldata(signature: str, types: list[str] | None = None, args: list | None = None) -> bytes:
    from eth_utils import function_signature_to_4byte_selector
    return function_signature_to_4byte_selector(signature) + (abi_encode(types, args) if types else b"")


def compute_word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def compute_address_word(address: bytes) -> bytes:
    return address.rjust(32, b"\x00")
