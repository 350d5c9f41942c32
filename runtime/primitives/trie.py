"""Roots of the ordered lists in a header (transactions, receipts).

The root is computed straight from the sorted keys, without building a trie in a
database: py-trie's HexaryTrie spent ~2.8 ms on an 8-item list, this takes a tenth of
that. A property test checks it against HexaryTrie.
"""
from __future__ import annotations

import rlp

from runtime.primitives.hashing import keccak256
from runtime.primitives.header import BLANK_ROOT


def _nibbles(key: bytes) -> bytes:
    out = bytearray()
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return bytes(out)


def _hex_prefix(nibbles: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        nibbles = bytes((flag + 1,)) + nibbles
    else:
        nibbles = bytes((flag, 0)) + nibbles
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _reference(node: list) -> object:
    # A child shorter than 32 bytes encoded is embedded in its parent, else hashed.
    encoded = rlp.encode(node)
    return node if len(encoded) < 32 else keccak256(encoded)


def _node(items: list[tuple[bytes, bytes]], depth: int) -> list:
    """The trie node holding ``items`` (sorted, distinct nibble keys) below ``depth``."""
    if len(items) == 1:
        key, value = items[0]
        return [_hex_prefix(key[depth:], True), value]
    first, last = items[0][0], items[-1][0]
    shared = 0
    limit = min(len(first), len(last)) - depth
    while shared < limit and first[depth + shared] == last[depth + shared]:
        shared += 1
    if shared:
        return [_hex_prefix(first[depth : depth + shared], False), _reference(_node(items, depth + shared))]
    branch: list = [b""] * 17
    start = 0
    if len(items[0][0]) == depth:  # a key ends here: its value sits in the branch
        branch[16] = items[0][1]
        start = 1
    while start < len(items):
        nibble = items[start][0][depth]
        end = start
        while end < len(items) and items[end][0][depth] == nibble:
            end += 1
        branch[nibble] = _reference(_node(items[start:end], depth + 1))
        start = end
    return branch


def compute_trie_root(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """Merkle Patricia root of a key -> value map (empty values are absent keys)."""
    items = sorted((_nibbles(k), v) for k, v in pairs if v)
    if not items:
        return BLANK_ROOT
    return keccak256(rlp.encode(_node(items, 0)))


def compute_ordered_root(items: list[bytes]) -> bytes:
    """Root of the trie mapping rlp(index) -> item, as Ethereum's transactionsRoot."""
    return compute_trie_root([(rlp.encode(index), item) for index, item in enumerate(items)])
