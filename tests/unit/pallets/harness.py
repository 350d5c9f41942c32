"""A minimal runtime for pallet tests: a memory-backed EVM state, funded accounts, and a clock.

    rt = Runtime(accounts=3, balance=10**21)
    out = rt.call(rt.accounts[0], Vesting, "createSchedule", [...], value=10**18)
    rt.advance(3600)

Gas costs nothing here (base fee 0, price 0), so balances + the pallet's balance is the
whole issuance. ``assert_noop`` runs a call that must fail and checks nothing moved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth.db.atomic import AtomicDB
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

import runtime.executive  # noqa: F401  registers the pallets with the EVM
from runtime.pallets.framework import PALLET_CODE, Pallet
from runtime.primitives.header import BLANK_ROOT
from runtime.state.store import MemoryStore, StateDB
from vm import evm
from vm.host import BlockContext

GAS = 2_000_000


@dataclass
class Result:
    outcome: evm.Outcome
    values: tuple | None

    @property
    def success(self) -> bool:
        return self.outcome.success

    @property
    def error_selector(self) -> bytes:
        return self.outcome.output[:4]


class Runtime:
    def __init__(self, accounts: int = 3, balance: int = 10**21, timestamp: int = 1_000_000,
                 pallets: tuple[type[Pallet], ...] = ()) -> None:
        from runtime.pallets import PALLETS
        self.pallets = pallets or PALLETS
        self.db = AtomicDB(StateDB(MemoryStore()))
        self.timestamp = timestamp
        self.number = 1
        self.accounts = [bytes([0xA0 + i]) * 20 for i in range(accounts)]
        self.state = self._open(BLANK_ROOT)
        for a in self.accounts:
            self.state.set_balance(a, balance)
        for p in self.pallets:
            self.state.set_code(p.address, PALLET_CODE)
        self._reopen()

    def _open(self, root: bytes) -> evm.EvmState:
        ctx = BlockContext(number=self.number, timestamp=self.timestamp, gas_limit=30_000_000, base_fee=0,
                           coinbase=b"\xcc" * 20, chain_id=31337)
        return evm.open_state(self.db, ctx, root)

    def _reopen(self) -> None:
        self.state.persist()
        self.state = self._open(self.state.state_root)

    def advance(self, seconds: int) -> None:
        self.timestamp += seconds
        self.number += 1
        self._reopen()

    def raw_call(self, sender: bytes, to: bytes, data: bytes, value: int = 0, gas: int = GAS) -> evm.Outcome:
        outcome = evm.call(self.state, sender=sender, to=to, data=data, value=value, gas=gas,
                           max_fee_per_gas=0, max_priority_fee_per_gas=0)
        self._reopen()
        return outcome

    def call(self, sender: bytes, pallet: type[Pallet], name: str, args: list[Any], value: int = 0) -> Result:
        spec = next(c for c in pallet.calls if c.name == name)
        data = spec.selector + abi_encode([a.type for a in spec.inputs], args)
        outcome = self.raw_call(sender, pallet.address, data, value)
        values = None
        if outcome.success:
            values = tuple(abi_decode([a.type for a in spec.outputs], outcome.output))
        return Result(outcome, values)

    def view(self, pallet: type[Pallet], name: str, *args: Any) -> Any:
        result = self.call(self.accounts[0], pallet, name, list(args))
        assert result.success, result.outcome
        return result.values[0] if len(result.values) == 1 else result.values

    def balance(self, account: bytes) -> int:
        return self.state.get_balance(account)

    def balances(self) -> dict[bytes, int]:
        return {a: self.balance(a) for a in [*self.accounts, *(p.address for p in self.pallets)]}


def error_selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def checksum(account: bytes) -> str:
    return to_checksum_address(account)
