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
        payload = rlp.encode(
            [
                b"\x01" if self.success else b"",
                self.cumulative_gas_used,
                self.bloom,
                [[log.address, list(log.topics), log.data] for log in self.logs],
            ]
        )
        return payload if self.tx_type == 0 else bytes((self.tx_type,)) + payload


def compute_bloom(logs: tuple[Log, ...] | list[Log]) -> bytes:
    bloom = BloomFilter()
    for log in logs:
        bloom.add(log.address)
        for topic in log.topics:
            bloom.add(topic)
    return int(bloom).to_bytes(256, "big")


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
