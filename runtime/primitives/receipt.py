"""Receipts, logs and blooms, encoded as Ethereum encodes them (EIP-2718 envelopes)."""
from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth_bloom import BloomFilter

from runtime.primitives.hashing import keccak256


@dataclass(frozen=True, slots=True)
class Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_type: int
    success: bool
    cumulative_gas_used: int
    logs: tuple[Log, ...]
    bloom: bytes  # 256 bytes

    def encode(self) -> bytes:
        # rlp([status, cumulative gas, bloom, [[address, [topics], data], ...]]), encoded by
        # hand: rlp.encode inferring a sedes for every item cost ~10x more, and every receipt
        # is encoded twice (receipts root, store). tests/unit/node/test_hot_path_encoding.py
        # checks it against rlp.encode.
        logs = b"".join(
            _list(_bytes(log.address) + _list(b"".join(map(_bytes, log.topics))) + _bytes(log.data))
            for log in self.logs
        )
        payload = _list(
            (b"\x01" if self.success else b"\x80")
            + _bytes(_int_bytes(self.cumulative_gas_used))
            + _bytes(self.bloom)
            + _list(logs)
        )
        return payload if self.tx_type == 0 else bytes((self.tx_type,)) + payload


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(encoded),)) + encoded


def _bytes(data: bytes) -> bytes:
    """rlp(data) for a byte string."""
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _length_prefix(len(data), 0x80) + data


def _list(payload: bytes) -> bytes:
    """rlp of a list, from the concatenated encodings of its items."""
    return _length_prefix(len(payload), 0xC0) + payload


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def encode_receipt_list(encoded: list[bytes]) -> bytes:
    """rlp([receipt encoding, ...]): how a block's receipts are stored (= rlp.encode of the list)."""
    return _list(b"".join(map(_bytes, encoded)))


def compute_bloom(logs: tuple[Log, ...] | list[Log]) -> bytes:
    # eth_bloom's BloomFilter.add, inlined (one per log address and topic, on every
    # transaction): each item sets bits h[0:2], h[2:4], h[4:6] mod 2048 of h = keccak256(item).
    bloom = 0
    for log in logs:
        for item in (log.address, *log.topics):
            h = keccak256(item)
            bloom |= (1 << (((h[0] << 8) | h[1]) & 2047)) | (1 << (((h[2] << 8) | h[3]) & 2047)) \
                | (1 << (((h[4] << 8) | h[5]) & 2047))
    return bloom.to_bytes(256, "big")


def merge_blooms(blooms: list[bytes]) -> bytes:
    merged = 0
    for bloom in blooms:
        merged |= int.from_bytes(bloom, "big")
    return merged.to_bytes(256, "big")


def bloom_may_contain(bloom: bytes, item: bytes) -> bool:
    return item in BloomFilter(int.from_bytes(bloom, "big"))


def decode_receipt(data: bytes) -> Receipt:
    tx_type = 0
    if data and data[0] < 0x80:
        tx_type, data = data[0], data[1:]
    status, cumulative, bloom, logs = rlp.decode(data)
    return Receipt(
        tx_type=tx_type,
        success=status == b"\x01",
        cumulative_gas_used=int.from_bytes(cumulative, "big"),
        logs=tuple(Log(bytes(a), tuple(bytes(t) for t in topics), bytes(d)) for a, topics, d in logs),
        bloom=bytes(bloom),
    )


def compute_contract_address(sender: bytes, nonce: int) -> bytes:
    return keccak256(rlp.encode([sender, nonce]))[12:]
