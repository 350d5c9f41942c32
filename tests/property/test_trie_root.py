from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from runtime.primitives.trie import compute_ordered_root, compute_trie_root


def reference_root(pairs: dict[bytes, bytes]) -> bytes:
    trie = HexaryTrie({})
    for key, value in pairs.items():
        trie[key] = value
    return trie.root_hash


@settings(max_examples=300)
@given(st.dictionaries(st.binary(min_size=0, max_size=5), st.binary(min_size=1, max_size=70), max_size=40))
def test_root_equals_hexary_trie(pairs) -> None:
    assert compute_trie_root(list(pairs.items())) == reference_root(pairs)


@settings(max_examples=50)
@given(st.lists(st.binary(min_size=1, max_size=120), max_size=300))
def test_ordered_root_equals_hexary_trie(items) -> None:
    import rlp

    assert compute_ordered_root(items) == reference_root({rlp.encode(i): item for i, item in enumerate(items)})
