"""Signing with the node's unlocked dev accounts, and sending for impersonated ones.

``eth_sign(address, data)`` and ``personal_sign(data, address)`` sign ``data`` (hex) as an
EIP-191 personal message; ``eth_signTypedData_v4(address, typedData)`` signs EIP-712 typed
data (an object or its JSON text); ``eth_signTransaction(tx)`` fills the transaction as
``eth_sendTransaction`` would and returns it signed (raw, hex) without sending it. Each
answers with the 65-byte r‖s‖v signature (v 27/28) Anvil gives for the same key and input,
and, for an address the node has no key for, Anvil's error: -32602 ``No Signer available``.

``eth_sendTransaction`` from an account impersonated with ``anvil_impersonateAccount`` (or
every account, after ``anvil_autoImpersonateAccount(true)``) is taken without a key, as
Anvil takes it: the transaction carries the signature r = s = 0 (v: 0, or the EIP-155 v of
parity 0 for a legacy one), executes as sent by that account, and its hash is Anvil's:
keccak256 of its network encoding followed by the sender's 20 bytes
(``node.chain.compute_impersonated_hash``; ``prepare_impersonated`` makes it executable).
A dev account that is impersonated is sent the same way, as in Anvil. Other senders go to
``EthApi.eth_sendTransaction`` (dev keys); any other address gets ``No Signer available``.

Defaults when a field is left out, as Anvil's: ``from`` the first dev account (signing
only), nonce the pending one, gas estimated, type 2 unless ``gasPrice`` is given (then
legacy, or type 1 with an access list), ``maxFeePerGas`` = ``eth_gasPrice``,
``maxPriorityFeePerGas`` 1 gwei, ``gasPrice`` = ``eth_gasPrice``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import rlp
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from node.chain import prepare_impersonated
from node.rpc.encode import addr, d
from node.rpc.errors import EXECUTION_ERROR, RpcError, invalid_params
from node.rpc.eth import SUGGESTED_TIP, EthApi
from node.rpc.params import CallArgs, parse_address, parse_call_args, parse_data, parse_quantity
from runtime.errors import InvalidTransaction
from runtime.primitives.transaction import (
    ACCESS_LIST_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    decode_transaction,
)


def no_signer() -> RpcError:
    """Anvil's answer for an address it holds no key for."""
    return invalid_params("No Signer available")


@dataclass(frozen=True, slots=True)
class FilledTransaction:
    """Every field of a transaction to sign (or send impersonated)."""

    type: int
    chain_id: int
    nonce: int
    gas: int
    to: bytes | None
    value: int
    data: bytes
    gas_price: int | None  # legacy and type 1
    max_fee_per_gas: int | None  # type 2
    max_priority_fee_per_gas: int | None
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...]

    def to_eth_account(self) -> dict[str, Any]:
        """The dict ``eth_account.Account.sign_transaction`` takes."""
        fields: dict[str, Any] = {"chainId": self.chain_id, "nonce": self.nonce, "gas": self.gas,
                                  "value": self.value, "data": self.data}
        if self.to is not None:
            fields["to"] = self.to
        access_list = [{"address": "0x" + a.hex(), "storageKeys": ["0x" + k.to_bytes(32, "big").hex() for k in keys]}
                       for a, keys in self.access_list]
        if self.type == LEGACY_TX_TYPE:
            fields["gasPrice"] = self.gas_price
        elif self.type == ACCESS_LIST_TX_TYPE:
            fields.update(type=1, gasPrice=self.gas_price, accessList=access_list)
        else:
            fields.update(type=2, maxFeePerGas=self.max_fee_per_gas,
                          maxPriorityFeePerGas=self.max_priority_fee_per_gas, accessList=access_list)
        return fields

    def encode_impersonated(self) -> bytes:
        """The transaction with Anvil's impersonation signature (r = s = 0), EIP-2718 encoded."""
        to = self.to or b""
        access_list = [[a, [k.to_bytes(32, "big") for k in keys]] for a, keys in self.access_list]
        if self.type == LEGACY_TX_TYPE:
            v = self.chain_id * 2 + 35  # EIP-155, parity 0
            return rlp.encode([self.nonce, self.gas_price, self.gas, to, self.value, self.data, v, 0, 0])
        if self.type == ACCESS_LIST_TX_TYPE:
            body = [self.chain_id, self.nonce, self.gas_price, self.gas, to, self.value, self.data, access_list, 0, 0, 0]
        else:
            body = [self.chain_id, self.nonce, self.max_priority_fee_per_gas, self.max_fee_per_gas, self.gas, to,
                    self.value, self.data, access_list, 0, 0, 0]
        return bytes((self.type,)) + rlp.encode(body)


class SigningApi:
    def __init__(self, eth: EthApi) -> None:
        self.eth = eth
        self.node = eth.node
        self.chain = eth.chain
        self.dev_keys = eth.dev_keys

    def methods(self) -> dict[str, Any]:
        return {
            "eth_accounts": self.eth_accounts,
            "eth_sign": self.eth_sign,
            "personal_sign": self.personal_sign,
            "eth_signTypedData_v4": self.eth_signTypedData_v4,
            "eth_signTransaction": self.eth_signTransaction,
            "eth_sendTransaction": self.eth_sendTransaction,
        }

    def _key(self, address: bytes) -> bytes:
        key = self.dev_keys.get(address)
        if key is None:
            raise no_signer()
        return key

    async def eth_accounts(self) -> list[str]:
        """The dev accounts, then the accounts impersonated by name (as Anvil lists them)."""
        impersonated = sorted(a for a in self.node.impersonated if a not in self.dev_keys)
        return [addr(a) for a in (*self.dev_keys, *impersonated)]

    # -- messages --------------------------------------------------------------------

    async def eth_sign(self, address: Any, data: Any) -> str:
        return self._sign_message(parse_address(address, 0), parse_data(data, 1))

    async def personal_sign(self, data: Any, address: Any, password: Any = None) -> str:
        return self._sign_message(parse_address(address, 1), parse_data(data, 0))

    def _sign_message(self, address: bytes, message: bytes) -> str:
        signed = Account.sign_message(encode_defunct(primitive=message), self._key(address))
        return d(bytes(signed.signature))

    async def eth_signTypedData_v4(self, address: Any, typed_data: Any) -> str:
        account = parse_address(address, 0)
        if isinstance(typed_data, str):
            try:
                typed_data = json.loads(typed_data)
            except ValueError:
                raise invalid_params("invalid argument 1: typed data is not valid JSON") from None
        if not isinstance(typed_data, dict):
            raise invalid_params("invalid argument 1: expected EIP-712 typed data (an object or its JSON text)")
        key = self._key(account)
        try:
            message = encode_typed_data(full_message=typed_data)
        except Exception as exc:  # eth_account raises assorted errors for malformed typed data
            raise invalid_params(f"invalid argument 1: invalid EIP-712 typed data: {exc}") from None
        return d(bytes(Account.sign_message(message, key).signature))

    # -- transactions ------------------------------------------------------------------

    async def eth_signTransaction(self, tx_object: Any) -> str:
        args = parse_call_args(tx_object, 0)
        sender = args.sender
        if sender is None:
            if not self.dev_keys:
                raise no_signer()
            sender = next(iter(self.dev_keys))
            tx_object = {**tx_object, "from": addr(sender)}
        key = self._key(sender)
        filled = await self._fill(tx_object, args, sender)
        return d(bytes(Account.sign_transaction(filled.to_eth_account(), key).raw_transaction))

    async def eth_sendTransaction(self, tx_object: Any) -> str:
        args = parse_call_args(tx_object, 0)
        if args.sender is None or not self.node.is_impersonated(args.sender):
            if args.sender is not None and args.sender not in self.dev_keys:
                raise no_signer()
            return await self.eth.eth_sendTransaction(tx_object)
        filled = await self._fill(tx_object, args, args.sender)
        raw = filled.encode_impersonated()
        try:
            tx = prepare_impersonated(decode_transaction(raw, sender=args.sender))
            await self.node.submit(tx)
        except InvalidTransaction as exc:
            raise RpcError(EXECUTION_ERROR, str(exc)) from None
        return d(tx.hash)

    async def _fill(self, tx_object: dict, args: CallArgs, sender: bytes) -> FilledTransaction:
        chain_id = self.chain.spec.chain_id
        if args.chain_id is not None and args.chain_id != chain_id:
            raise RpcError(EXECUTION_ERROR, f"invalid chain id for signer: have {args.chain_id} want {chain_id}")
        tx_type = _requested_type(tx_object, args)
        gas = args.gas if args.gas is not None else int(await self.eth.eth_estimateGas(tx_object), 16)
        gas_price = max_fee = tip = None
        if tx_type == DYNAMIC_FEE_TX_TYPE:
            if args.gas_price is not None:
                raise invalid_params("invalid argument 0: gasPrice is not a field of a type 2 transaction")
            max_fee = args.max_fee_per_gas if args.max_fee_per_gas is not None else int(await self.eth.eth_gasPrice(), 16)
            tip = args.max_priority_fee_per_gas if args.max_priority_fee_per_gas is not None else SUGGESTED_TIP
        else:
            gas_price = args.gas_price if args.gas_price is not None else int(await self.eth.eth_gasPrice(), 16)
        return FilledTransaction(
            type=tx_type,
            chain_id=chain_id,
            nonce=args.nonce if args.nonce is not None else self.node.pending_nonce(sender),
            gas=gas,
            to=args.to,
            value=args.value,
            data=args.data,
            gas_price=gas_price,
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=tip,
            access_list=args.access_list,
        )


def _requested_type(tx_object: dict, args: CallArgs) -> int:
    """The type asked for, or the one its fee fields imply (alloy's preferred type, as Anvil)."""
    if tx_object.get("type") is not None:
        tx_type = parse_quantity(tx_object["type"], 0, bits=8)
        if tx_type not in (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE):
            raise invalid_params(f"invalid argument 0: transaction type {tx_type} is not supported")
        return tx_type
    if args.gas_price is not None:
        return ACCESS_LIST_TX_TYPE if tx_object.get("accessList") else LEGACY_TX_TYPE
    return DYNAMIC_FEE_TX_TYPE
