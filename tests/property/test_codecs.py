"""Codecs round-trip: what we decode re-encodes to the same bytes and the same fields."""
from __future__ import annotations

import rlp
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.primitives.header import decode_header, encode_header, new_header
from runtime.primitives.receipt import Log, Receipt, compute_bloom, decode_receipt
from runtime.primitives.transaction import decode_transaction

KEYS = [Account.from_key(bytes([i + 1]) * 32) for i in range(3)]
u64 = st.integers(0, 2**64 - 1)
u256 = st.integers(0, 2**256 - 1)
address = st.binary(min_size=20, max_size=20)


@st.composite
def signed_transactions(draw):
    tx_type = draw(st.sampled_from([0, 1, 2]))
    fields = {
        "nonce": draw(u64),
        "gas": draw(st.integers(21000, 2**63 - 1)),
        "value": draw(u256),
        "data": draw(st.binary(max_size=200)),
        "chainId": draw(st.integers(1, 2**32)),
    }
    to = draw(st.one_of(st.none(), address))
    if to is not None:
        fields["to"] = to_checksum_address(to)
    if tx_type == 2:
        fields.update(type=2, maxFeePerGas=draw(u256), maxPriorityFeePerGas=draw(u256))
    else:
        fields["gasPrice"] = draw(u256)
    if tx_type == 1:
        fields["type"] = 1
    if tx_type:
        fields["accessList"] = [
            {"address": to_checksum_address(a), "storageKeys": ["0x" + k.hex() for k in keys]}
            for a, keys in draw(st.lists(st.tuples(address, st.lists(st.binary(min_size=32, max_size=32), max_size=3)), max_size=3))
        ]
    key = draw(st.sampled_from(KEYS))
    return key, fields, bytes(key.sign_transaction(fields).raw_transaction)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(signed_transactions())
def test_transaction_decode_matches_what_was_signed(case) -> None:
    key, fields, raw = case
    tx = decode_transaction(raw)
    assert tx.sender == bytes.fromhex(key.address[2:])
    assert tx.nonce == fields["nonce"] and tx.gas == fields["gas"] and tx.value == fields["value"]
    assert tx.data == fields["data"] and tx.chain_id == fields["chainId"]
    assert tx.to == (bytes.fromhex(fields["to"][2:]) if "to" in fields else None)
    assert tx.evm.encode() == raw if tx.type else rlp.encode(tx.evm) == raw
    if tx.type == 2:
        assert (tx.max_fee_per_gas, tx.max_priority_fee_per_gas) == (fields["maxFeePerGas"], fields["maxPriorityFeePerGas"])
    else:
        assert tx.gas_price == fields["gasPrice"]


@given(
    number=u64, timestamp=u64, gas_limit=u64, gas_used=u64, base_fee=u256,
    parent=st.binary(min_size=32, max_size=32), extra=st.binary(max_size=32), coinbase=address,
)
def test_header_round_trip(number, timestamp, gas_limit, gas_used, base_fee, parent, extra, coinbase) -> None:
    header = new_header(
        parent_hash=parent, number=number, timestamp=timestamp, gas_limit=gas_limit,
        gas_used=gas_used, base_fee_per_gas=base_fee, extra_data=extra, coinbase=coinbase,
    )
    decoded = decode_header(encode_header(header))
    assert decoded == header and decoded.hash == header.hash


logs = st.lists(
    st.builds(Log, address, st.lists(st.binary(min_size=32, max_size=32), max_size=4).map(tuple), st.binary(max_size=100)),
    max_size=4,
).map(tuple)


@given(st.sampled_from([0, 1, 2]), st.booleans(), u64, logs)
def test_receipt_round_trip(tx_type, success, gas, entries) -> None:
    receipt = Receipt(tx_type, success, gas, entries, compute_bloom(entries))
    assert decode_receipt(receipt.encode()) == receipt
