"""Roots of the ordered lists in a header (transactions, receipts)."""
from __future__ import annotations

import rlp
from trie import HexaryTrie

from runtime.primitives.header import BLANK_ROOT


def compute_ordered_root(items: list[bytes]) -> bytes:
    """Root of the trie mapping rlp(index) -> item, as Ethereum's transactionsRoot."""
    if not items:
        return BLANK_ROOT
    trie = HexaryTrie({})
    with trie.squash_changes() as batch:
        for index, item in enumerate(items):
            batch[rlp.encode(index)] = item
    return trie.root_hash
