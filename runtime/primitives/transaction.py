"""Signed Ethereum transactions (types 0, 1, 2): decode once, recover the sender once.

The wire format is Ethereum's (RLP, EIP-2718 envelopes). Decoding uses py-evm's
Prague transaction classes, so execution gets the object it expects; the sender is
recovered here with coincurve and stored in that object's cached ``sender`` so
py-evm never recovers it again.
"""
from __future__ import annotations

from typing import Any

import coincurve
import rlp
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_utils import ValidationError

from runtime.errors import InvalidTransaction
from runtime.primitives.hashing import keccak256
from vm.wasm.config import MAX_INITCODE_BYTES as MAX_WASM_INITCODE_SIZE
from vm.wasm.config import WASM_MAGIC

LEGACY_TX_TYPE = 0
ACCESS_LIST_TX_TYPE = 1
DYNAMIC_FEE_TX_TYPE = 2
SUPPORTED_TX_TYPES = (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2
MAX_INITCODE_SIZE = 2 * 24576  # EIP-3860
TX_MAX_SIZE = 128 * 1024  # geth's txpool limit for one transaction
# EIP-7623 (Prague): calldata floor price per token.
TOTAL_COST_FLOOR_PER_TOKEN = 10
TX_BASE_GAS = 21000


class Transaction:
    """A decoded, signature-checked transaction with its sender and hash."""

    __slots__ = (
        "evm", "raw", "hash", "sender", "type", "chain_id", "nonce", "gas", "to",
        "value", "data", "gas_price", "max_fee_per_gas", "max_priority_fee_per_gas",
        "access_list", "v", "r", "s", "intrinsic_gas", "floor_gas",
    )

    evm: Any
    raw: bytes
    hash: bytes
    sender: bytes
    type: int
    chain_id: int | None
    nonce: int
    gas: int
    to: bytes | None
    value: int
    data: bytes
    gas_price: int | None  # legacy and type 1 only
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...]
    v: int
    r: int
    s: int
    intrinsic_gas: int
    floor_gas: int

    def effective_gas_price(self, base_fee: int) -> int:
        return min(self.max_fee_per_gas, base_fee + self.max_priority_fee_per_gas)

    def effective_tip(self, base_fee: int) -> int:
        return min(self.max_priority_fee_per_gas, self.max_fee_per_gas - base_fee)

    @property
    def is_create(self) -> bool:
        return self.to is None

    def __repr__(self) -> str:
        return f"Transaction(0x{self.hash.hex()}, type={self.type}, nonce={self.nonce})"


def compute_floor_gas(data: bytes) -> int:
    """EIP-7623: the least gas a transaction with this calldata may use."""
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * 4
    return TX_BASE_GAS + TOTAL_COST_FLOOR_PER_TOKEN * tokens


def recover_sender(message_hash: bytes, recovery_id: int, r: int, s: int) -> bytes:
    """Recover the 20-byte address that signed ``message_hash``.

    Raises:
        InvalidTransaction: the signature values are out of range or do not recover.
    """
    if recovery_id not in (0, 1):
        raise InvalidTransaction("invalid sender: bad signature recovery id")
    if not (0 < r < SECP256K1_N) or not (0 < s <= SECP256K1_HALF_N):
        raise InvalidTransaction("invalid sender: signature values out of range")
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((recovery_id,))
    try:
        public = coincurve.PublicKey.from_signature_and_message(signature, message_hash, hasher=None)
    except Exception as exc:  # coincurve raises plain Exception on a bad point
        raise InvalidTransaction(f"invalid sender: {exc}") from None
    return keccak256(public.format(compressed=False)[1:])[12:]


def _item_end(data: bytes, pos: int) -> int:
    """Where the RLP item starting at ``data[pos]`` ends."""
    prefix = data[pos]
    if prefix < 0x80:
        return pos + 1
    if prefix <= 0xB7:
        return pos + 1 + prefix - 0x80
    if prefix < 0xC0:
        size = prefix - 0xB7
        return pos + 1 + size + int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
    if prefix <= 0xF7:
        return pos + 1 + prefix - 0xC0
    size = prefix - 0xF7
    return pos + 1 + size + int.from_bytes(data[pos + 1 : pos + 1 + size], "big")


def _rlp_list_prefix(length: int) -> bytes:
    if length < 56:
        return bytes((0xC0 + length,))
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(encoded),)) + encoded


def typed_signing_message(raw: bytes) -> bytes:
    """What the sender of a typed transaction (EIP-2718 envelope ``type || rlp([fields...,
    y_parity, r, s])``) signed: ``type || rlp([fields...])``, cut from ``raw`` without decoding.

    Only for an envelope py-evm has already decoded: its RLP is then canonical (strict
    decoding, minimal integers), so the fields' bytes in ``raw`` are the bytes
    ``get_message_for_signing`` re-encodes them to (py-evm's encoding of the unsigned
    transaction costs ~20x more). tests/unit/node/test_hot_path_encoding.py checks it.
    """
    prefix = raw[1]
    start = 2 if prefix <= 0xF7 else 2 + prefix - 0xF7
    items = []
    pos = start
    while pos < len(raw):
        items.append(pos)
        pos = _item_end(raw, pos)
    cut = items[-3]  # y_parity, r, s are the last three
    return raw[:1] + _rlp_list_prefix(cut - start) + raw[start:cut]


def decode_transaction(raw: bytes, *, sender: bytes | None = None) -> Transaction:
    """Decode a raw signed transaction and recover its sender.

    ``sender`` skips recovery: only for transactions read back from our own store,
    whose sender was recovered when they first arrived.

    Raises:
        InvalidTransaction: malformed encoding, unsupported type, bad signature.
    """
    if not raw:
        raise InvalidTransaction("empty transaction")
    if len(raw) > TX_MAX_SIZE:
        raise InvalidTransaction(f"oversized data: transaction size {len(raw)}, limit {TX_MAX_SIZE}")
    first = raw[0]
    if first < 0xC0 and first not in (ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE):
        if first <= 0x7F:
            raise InvalidTransaction(f"transaction type not supported: {first}")
        raise InvalidTransaction("rlp: expected a list or a typed transaction envelope")
    try:
        evm = PragueTransactionBuilder.decode(raw)
    except (rlp.exceptions.RLPException, ValidationError, ValueError, TypeError, IndexError) as exc:
        raise InvalidTransaction(f"rlp: {exc}") from None

    tx = Transaction()
    tx.evm = evm
    tx.raw = raw
    tx.hash = keccak256(raw)
    tx.nonce = evm.nonce
    tx.gas = evm.gas
    tx.to = evm.to or None
    tx.value = evm.value
    tx.data = evm.data
    tx.r = evm.r
    tx.s = evm.s
    if first >= 0xC0:
        tx.type = LEGACY_TX_TYPE
        v = evm.v
        if v in (27, 28):
            tx.chain_id, recovery_id = None, v - 27
        elif v >= 35:
            tx.chain_id, recovery_id = (v - 35) // 2, (v - 35) % 2
        else:
            raise InvalidTransaction(f"invalid sender: bad legacy signature v={v}")
        tx.v = v
        tx.gas_price = tx.max_fee_per_gas = tx.max_priority_fee_per_gas = evm.gas_price
        tx.access_list = ()
    else:
        tx.type = first
        tx.chain_id = evm.chain_id
        recovery_id = evm.y_parity
        tx.v = recovery_id
        if first == ACCESS_LIST_TX_TYPE:
            tx.gas_price = tx.max_fee_per_gas = tx.max_priority_fee_per_gas = evm.gas_price
        else:
            tx.gas_price = None
            tx.max_fee_per_gas = evm.max_fee_per_gas
            tx.max_priority_fee_per_gas = evm.max_priority_fee_per_gas
        tx.access_list = tuple((bytes(a), tuple(slots)) for a, slots in evm.access_list)
    if sender is None:
        if first >= 0xC0:
            message = evm.get_message_for_signing()
        else:
            message = typed_signing_message(raw)
        sender = recover_sender(keccak256(message), recovery_id, tx.r, tx.s)
    tx.sender = sender
    # py-evm reads `sender` through a cached_property: fill the cache so it never recovers again.
    evm.__dict__["sender"] = tx.sender
    tx.intrinsic_gas = evm.intrinsic_gas
    tx.floor_gas = compute_floor_gas(tx.data)
    return tx


def validate_transaction(tx: Transaction, *, chain_id: int, block_gas_limit: int) -> None:
    """Checks that need no state: chain id, fees, gas bounds, init code size.

    Raises:
        InvalidTransaction: with the message Ethereum clients expect.
    """
    if tx.chain_id is not None and tx.chain_id != chain_id:
        raise InvalidTransaction(f"invalid chain id for signer: have {tx.chain_id} want {chain_id}")
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise InvalidTransaction(
            "max priority fee per gas higher than max fee per gas: "
            f"maxPriorityFeePerGas: {tx.max_priority_fee_per_gas}, maxFeePerGas: {tx.max_fee_per_gas}"
        )
    if tx.gas > block_gas_limit:
        raise InvalidTransaction("exceeds block gas limit")
    if tx.gas < tx.intrinsic_gas:
        raise InvalidTransaction(f"intrinsic gas too low: gas {tx.gas}, minimum needed {tx.intrinsic_gas}")
    if tx.gas < tx.floor_gas:
        raise InvalidTransaction(
            f"insufficient gas for floor data gas cost: gas {tx.gas}, minimum needed {tx.floor_gas}"
        )
    limit = MAX_WASM_INITCODE_SIZE if tx.data[:4] == WASM_MAGIC else MAX_INITCODE_SIZE
    if tx.to is None and len(tx.data) > limit:
        raise InvalidTransaction(f"max initcode size exceeded: code size {len(tx.data)} limit {limit}")
    if tx.value >= 2**256 or tx.max_fee_per_gas >= 2**256:
        raise InvalidTransaction("value or fee exceeds 256 bits")


def validate_against_account(tx: Transaction, *, nonce: int, balance: int) -> None:
    """Checks against the sender's account in the latest state.

    Raises:
        InvalidTransaction: ``nonce too low`` or ``insufficient funds ...``.
    """
    if tx.nonce < nonce:
        raise InvalidTransaction(f"nonce too low: next nonce {nonce}, tx nonce {tx.nonce}")
    cost = tx.gas * tx.max_fee_per_gas + tx.value
    if balance < cost:
        raise InvalidTransaction(
            f"insufficient funds for gas * price + value: balance {balance}, "
            f"tx cost {cost}, overshot {cost - balance}"
        )
