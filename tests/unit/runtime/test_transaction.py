from __future__ import annotations

import pytest
import rlp
from eth_account import Account

from runtime.errors import InvalidTransaction
from runtime.primitives.transaction import (
    SECP256K1_N,
    compute_floor_gas,
    decode_transaction,
    validate_against_account,
    validate_transaction,
)

KEY = Account.from_key(b"\x07" * 32)
TO = "0x" + "11" * 20


def sign(**fields) -> bytes:
    base = {"chainId": 31337, "nonce": 0, "gas": 21000, "to": TO, "value": 1}
    base.update(fields)
    if "type" not in base and "gasPrice" not in base:
        base.setdefault("maxFeePerGas", 2 * 10**9)
        base.setdefault("maxPriorityFeePerGas", 10**9)
        base["type"] = 2
    return bytes(KEY.sign_transaction(base).raw_transaction)


@pytest.mark.parametrize(
    "fields,tx_type",
    [
        ({"gasPrice": 10**9}, 0),
        ({"type": 1, "gasPrice": 10**9, "accessList": [{"address": TO, "storageKeys": ["0x" + "00" * 31 + "01"]}], "gas": 30000}, 1),
        ({}, 2),
    ],
)
def test_decode_recovers_sender_hash_and_fields(fields, tx_type) -> None:
    raw = sign(**fields)
    tx = decode_transaction(raw)
    assert tx.type == tx_type
    assert tx.sender == bytes.fromhex(KEY.address[2:])
    assert tx.evm.sender == tx.sender
    assert tx.chain_id == 31337
    assert tx.to == bytes.fromhex(TO[2:])
    assert tx.raw == raw
    if tx_type == 1:
        assert tx.access_list == ((bytes.fromhex(TO[2:]), (1,)),)
        assert tx.intrinsic_gas == 21000 + 2400 + 1900


def test_hash_is_keccak_of_the_raw_bytes() -> None:
    from eth_utils import keccak

    raw = sign()
    assert decode_transaction(raw).hash == keccak(raw)


def test_pre_eip155_legacy_has_no_chain_id() -> None:
    signed = Account.sign_transaction({"nonce": 0, "gasPrice": 10**9, "gas": 21000, "to": TO, "value": 1}, KEY.key)
    tx = decode_transaction(bytes(signed.raw_transaction))
    assert tx.chain_id is None and tx.sender == bytes.fromhex(KEY.address[2:])


@pytest.mark.parametrize(
    "raw,words",
    [
        (b"", "empty transaction"),
        (b"\x03" + b"\xc0", "transaction type not supported: 3"),
        (b"\x04" + b"\xc0", "transaction type not supported: 4"),
        (b"\x85hello", "rlp"),
        (b"\xc3\x01\x02\x03", "rlp"),
        (b"\x02\xc0", "rlp"),
    ],
)
def test_malformed_bytes_are_refused_with_a_reason(raw, words) -> None:
    with pytest.raises(InvalidTransaction, match=words):
        decode_transaction(raw)


def test_tampered_signature_is_invalid_sender_or_other_sender() -> None:
    raw = sign()
    fields = rlp.decode(raw[1:])
    fields[-1] = (SECP256K1_N - 1).to_bytes(32, "big")  # s above n/2: malleable, refused
    with pytest.raises(InvalidTransaction, match="invalid sender"):
        decode_transaction(b"\x02" + rlp.encode(fields))
    fields[-1] = b""  # s = 0
    with pytest.raises(InvalidTransaction, match="invalid sender"):
        decode_transaction(b"\x02" + rlp.encode(fields))


def test_stateless_validation_messages() -> None:
    def check(raw, words, gas_limit=30_000_000):
        with pytest.raises(InvalidTransaction, match=words):
            validate_transaction(decode_transaction(raw), chain_id=31337, block_gas_limit=gas_limit)

    check(sign(chainId=1), "invalid chain id for signer: have 1 want 31337")
    check(sign(gas=20999), "intrinsic gas too low: gas 20999, minimum needed 21000")
    check(sign(gas=40_000_000), "exceeds block gas limit")
    check(sign(maxFeePerGas=1, maxPriorityFeePerGas=2), "max priority fee per gas higher than max fee per gas")
    # 100 non-zero bytes: intrinsic 21000 + 1600 but EIP-7623 floor 21000 + 4000
    check(sign(gas=23000, data=b"\x01" * 100), "floor data gas cost")
    check(sign(to=None, data=b"\x00" * 49153, gas=10_000_000), "max initcode size exceeded")
    validate_transaction(decode_transaction(sign()), chain_id=31337, block_gas_limit=30_000_000)


def test_floor_gas() -> None:
    assert compute_floor_gas(b"") == 21000
    assert compute_floor_gas(b"\x00\x01") == 21000 + 10 * (1 + 4)


def test_account_checks() -> None:
    tx = decode_transaction(sign(nonce=3, value=10))
    with pytest.raises(InvalidTransaction, match="nonce too low: next nonce 4, tx nonce 3"):
        validate_against_account(tx, nonce=4, balance=10**30)
    cost = 21000 * 2 * 10**9 + 10
    with pytest.raises(InvalidTransaction, match=f"insufficient funds for gas \\* price \\+ value: balance {cost - 1}, tx cost {cost}, overshot 1"):
        validate_against_account(tx, nonce=3, balance=cost - 1)
    validate_against_account(tx, nonce=3, balance=cost)
