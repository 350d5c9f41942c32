"""Block headers: Ethereum's Prague header fields, in Ethereum's order and encoding.

Keeping the Ethereum layout means the block hash, state root and bloom that clients
see mean what they mean on Ethereum; consensus data goes in ``extra_data`` until a
consensus engine needs fields of its own.
"""
from __future__ import annotations

from functools import cached_property

import rlp
from rlp.sedes import Binary, big_endian_int, binary

from runtime.primitives.hashing import keccak256

hash32 = Binary.fixed_length(32)
address = Binary.fixed_length(20)
BLANK_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
EMPTY_UNCLES_HASH = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")
EMPTY_REQUESTS_HASH = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
ZERO_HASH = b"\x00" * 32
ZERO_ADDRESS = b"\x00" * 20


class Header(rlp.Serializable):
    fields = [
        ("parent_hash", hash32),
        ("uncles_hash", hash32),
        ("coinbase", address),
        ("state_root", hash32),
        ("transactions_root", hash32),
        ("receipts_root", hash32),
        ("logs_bloom", Binary.fixed_length(256)),
        ("difficulty", big_endian_int),
        ("number", big_endian_int),
        ("gas_limit", big_endian_int),
        ("gas_used", big_endian_int),
        ("timestamp", big_endian_int),
        ("extra_data", binary),
        ("mix_hash", hash32),
        ("nonce", Binary.fixed_length(8)),
        ("base_fee_per_gas", big_endian_int),
        ("withdrawals_root", hash32),
        ("blob_gas_used", big_endian_int),
        ("excess_blob_gas", big_endian_int),
        ("parent_beacon_block_root", hash32),
        ("requests_hash", hash32),
    ]

    @cached_property
    def hash(self) -> bytes:
        return keccak256(rlp.encode(self))


def new_header(
    *,
    parent_hash: bytes,
    number: int,
    timestamp: int,
    gas_limit: int,
    base_fee_per_gas: int,
    coinbase: bytes = ZERO_ADDRESS,
    state_root: bytes = BLANK_ROOT,
    transactions_root: bytes = BLANK_ROOT,
    receipts_root: bytes = BLANK_ROOT,
    logs_bloom: bytes = b"\x00" * 256,
    gas_used: int = 0,
    extra_data: bytes = b"",
    mix_hash: bytes = ZERO_HASH,
) -> Header:
    return Header(
        parent_hash=parent_hash,
        uncles_hash=EMPTY_UNCLES_HASH,
        coinbase=coinbase,
        state_root=state_root,
        transactions_root=transactions_root,
        receipts_root=receipts_root,
        logs_bloom=logs_bloom,
        difficulty=0,
        number=number,
        gas_limit=gas_limit,
        gas_used=gas_used,
        timestamp=timestamp,
        extra_data=extra_data,
        mix_hash=mix_hash,
        nonce=b"\x00" * 8,
        base_fee_per_gas=base_fee_per_gas,
        withdrawals_root=BLANK_ROOT,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=ZERO_HASH,
        requests_hash=EMPTY_REQUESTS_HASH,
    )


def encode_header(header: Header) -> bytes:
    return rlp.encode(header)


def decode_header(data: bytes) -> Header:
    return rlp.decode(data, sedes=Header)
