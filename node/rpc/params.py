"""Parsing JSON-RPC params as the Ethereum execution-apis spec encodes them.

Every parser takes the param's position so a bad value is refused with
``invalid argument N: ...`` (geth's wording), code -32602.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.rpc.errors import invalid_params

BLOCK_TAGS = ("latest", "earliest", "pending", "safe", "finalized")


def _fail(index: int, message: str):
    return invalid_params(f"invalid argument {index}: {message}")


def parse_quantity(value: Any, index: int, *, bits: int = 256) -> int:
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value  # lenient: some tools send plain numbers
        raise _fail(index, "expected a hex-encoded quantity")
    if not value.startswith(("0x", "0X")):
        raise _fail(index, "hex string without 0x prefix")
    digits = value[2:]
    if not digits:
        raise _fail(index, "hex string \"0x\"")
    if len(digits) > 1 and digits[0] == "0":
        raise _fail(index, "hex number with leading zero digits")
    try:
        number = int(digits, 16)
    except ValueError:
        raise _fail(index, "invalid hex string") from None
    if number.bit_length() > bits:
        raise _fail(index, f"hex number > {bits} bits")
    return number


def parse_data(value: Any, index: int, *, length: int | None = None, what: str = "hex data") -> bytes:
    if not isinstance(value, str):
        raise _fail(index, f"expected {what} as a 0x-prefixed string")
    if not value.startswith(("0x", "0X")):
        raise _fail(index, "hex string without 0x prefix")
    if len(value) % 2:
        raise _fail(index, "hex string of odd length")
    try:
        data = bytes.fromhex(value[2:])
    except ValueError:
        raise _fail(index, "invalid hex string") from None
    if length is not None and len(data) != length:
        raise _fail(index, f"{what} must be {length} bytes, got {len(data)}")
    return data


def parse_address(value: Any, index: int) -> bytes:
    return parse_data(value, index, length=20, what="address")


def parse_hash(value: Any, index: int) -> bytes:
    return parse_data(value, index, length=32, what="hash")


@dataclass(frozen=True, slots=True)
class BlockId:
    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None


def parse_block_id(value: Any, index: int, *, allow_hash: bool = True) -> BlockId:
    """A block tag, a number, a hash, or an EIP-1898 object."""
    if value is None:
        return BlockId(tag="latest")
    if isinstance(value, dict) and allow_hash:
        if "blockHash" in value:
            return BlockId(hash=parse_hash(value["blockHash"], index))
        if "blockNumber" in value:
            return parse_block_id(value["blockNumber"], index, allow_hash=False)
        raise _fail(index, "expected blockHash or blockNumber")
    if isinstance(value, str):
        if value in BLOCK_TAGS:
            return BlockId(tag=value)
        if allow_hash and len(value) == 66:
            return BlockId(hash=parse_hash(value, index))
        return BlockId(number=parse_quantity(value, index, bits=64))
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return BlockId(number=value)
    raise _fail(index, f"invalid block identifier {value!r}")


def parse_bool(value: Any, index: int) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(index, "expected a boolean")
    return value


@dataclass(frozen=True, slots=True)
class CallArgs:
    sender: bytes | None
    to: bytes | None
    gas: int | None
    gas_price: int | None
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None
    value: int
    data: bytes
    nonce: int | None
    access_list: tuple
    chain_id: int | None


CALL_FIELDS = {
    "from", "to", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value",
    "data", "input", "nonce", "accessList", "chainId", "type",
}


def parse_call_args(value: Any, index: int) -> CallArgs:
    """A transaction-call object (eth_call, eth_estimateGas, eth_sendTransaction)."""
    if not isinstance(value, dict):
        raise _fail(index, "expected a transaction object")
    unknown = sorted(set(value) - CALL_FIELDS - {"blobVersionedHashes", "maxFeePerBlobGas", "authorizationList"})
    if unknown:
        raise _fail(index, f"unknown field {unknown[0]!r}")
    for unsupported in ("blobVersionedHashes", "maxFeePerBlobGas", "authorizationList"):
        if value.get(unsupported):
            raise _fail(index, f"{unsupported}: blob and set-code transactions are not supported")

    def opt_quantity(name: str, bits: int = 256) -> int | None:
        raw = value.get(name)
        if raw is None:
            return None
        try:
            return parse_quantity(raw, index, bits=bits)
        except Exception:
            raise _fail(index, f"{name}: expected a hex-encoded quantity") from None

    data = value.get("input")
    other = value.get("data")
    if data is not None and other is not None and data != other:
        raise _fail(index, "both \"data\" and \"input\" are set and not equal")
    raw_data = data if data is not None else other
    access_list = ()
    if value.get("accessList"):
        try:
            access_list = tuple(
                (parse_address(item["address"], index), tuple(int.from_bytes(parse_hash(k, index), "big") for k in item.get("storageKeys", [])))
                for item in value["accessList"]
            )
        except (TypeError, KeyError):
            raise _fail(index, "accessList: expected [{address, storageKeys}]") from None
    gas_price = opt_quantity("gasPrice")
    max_fee = opt_quantity("maxFeePerGas")
    if gas_price is not None and (max_fee is not None or value.get("maxPriorityFeePerGas") is not None):
        raise _fail(index, "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
    return CallArgs(
        sender=parse_address(value["from"], index) if value.get("from") is not None else None,
        to=parse_address(value["to"], index) if value.get("to") is not None else None,
        gas=opt_quantity("gas", 64),
        gas_price=gas_price,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=opt_quantity("maxPriorityFeePerGas"),
        value=opt_quantity("value") or 0,
        data=parse_data(raw_data, index) if raw_data is not None else b"",
        nonce=opt_quantity("nonce", 64),
        access_list=access_list,
        chain_id=opt_quantity("chainId", 64),
    )
