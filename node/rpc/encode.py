"""Blocks, transactions, receipts and logs as the execution-apis spec writes them."""
from __future__ import annotations

from typing import Any

import rlp

from node.chain import Block
from runtime.primitives.header import Header, encode_header
from runtime.primitives.receipt import Log, Receipt, compute_contract_address
from runtime.primitives.transaction import LEGACY_TX_TYPE, DYNAMIC_FEE_TX_TYPE, Transaction


def q(number: int) -> str:
    return hex(number)


def d(data: bytes) -> str:
    return "0x" + data.hex()


def addr(address: bytes | None) -> str | None:
    return None if address is None else "0x" + address.hex()


def encode_transaction(tx: Transaction, block: Block | None = None, index: int | None = None) -> dict[str, Any]:
    if block is not None:
        gas_price = tx.effective_gas_price(block.header.base_fee_per_gas)
    else:
        gas_price = tx.max_fee_per_gas
    out: dict[str, Any] = {
        "blockHash": d(block.hash) if block is not None else None,
        "blockNumber": q(block.header.number) if block is not None else None,
        "from": addr(tx.sender),
        "gas": q(tx.gas),
        "gasPrice": q(gas_price),
        "hash": d(tx.hash),
        "input": d(tx.data),
        "nonce": q(tx.nonce),
        "to": addr(tx.to),
        "transactionIndex": q(index) if index is not None else None,
        "value": q(tx.value),
        "type": q(tx.type),
        "v": q(tx.v),
        "r": q(tx.r),
        "s": q(tx.s),
    }
    if tx.chain_id is not None:
        out["chainId"] = q(tx.chain_id)
    if tx.type != LEGACY_TX_TYPE:
        out["accessList"] = [
            {"address": addr(a), "storageKeys": [d(k.to_bytes(32, "big")) for k in keys]} for a, keys in tx.access_list
        ]
        out["yParity"] = q(tx.v)
    if tx.type == DYNAMIC_FEE_TX_TYPE:
        out["maxFeePerGas"] = q(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
    return out


def encode_block(block: Block, full: bool) -> dict[str, Any]:
    header = block.header
    body_size = len(rlp.encode([[tx.raw for tx in block.transactions], [], []]))
    if full:
        transactions: list[Any] = [encode_transaction(tx, block, i) for i, tx in enumerate(block.transactions)]
    else:
        transactions = [d(tx.hash) for tx in block.transactions]
    return {
        **encode_header_fields(header),
        "size": q(len(encode_header(header)) + body_size),
        "totalDifficulty": "0x0",
        "transactions": transactions,
        "uncles": [],
        "withdrawals": [],
    }


def encode_header_fields(header: Header) -> dict[str, Any]:
    return {
        "hash": d(header.hash),
        "parentHash": d(header.parent_hash),
        "sha3Uncles": d(header.uncles_hash),
        "miner": addr(header.coinbase),
        "stateRoot": d(header.state_root),
        "transactionsRoot": d(header.transactions_root),
        "receiptsRoot": d(header.receipts_root),
        "logsBloom": d(header.logs_bloom),
        "difficulty": q(header.difficulty),
        "number": q(header.number),
        "gasLimit": q(header.gas_limit),
        "gasUsed": q(header.gas_used),
        "timestamp": q(header.timestamp),
        "extraData": d(header.extra_data),
        "mixHash": d(header.mix_hash),
        "nonce": d(header.nonce),
        "baseFeePerGas": q(header.base_fee_per_gas),
        "withdrawalsRoot": d(header.withdrawals_root),
        "blobGasUsed": q(header.blob_gas_used),
        "excessBlobGas": q(header.excess_blob_gas),
        "parentBeaconBlockRoot": d(header.parent_beacon_block_root),
        "requestsHash": d(header.requests_hash),
    }


def first_log_index(block: Block, tx_index: int) -> int:
    return sum(len(r.logs) for r in block.receipts[:tx_index])


def encode_log(block: Block, tx_index: int, log: Log, log_index: int) -> dict[str, Any]:
    return {
        "address": addr(log.address),
        "topics": [d(t) for t in log.topics],
        "data": d(log.data),
        "blockNumber": q(block.header.number),
        "blockHash": d(block.hash),
        "blockTimestamp": q(block.header.timestamp),
        "transactionHash": d(block.transactions[tx_index].hash),
        "transactionIndex": q(tx_index),
        "logIndex": q(log_index),
        "removed": False,
    }


def encode_logs_of(block: Block, tx_index: int, log_index: int) -> list[dict[str, Any]]:
    """The logs of one transaction; ``log_index`` is the block-wide index of its first log."""
    return [encode_log(block, tx_index, log, log_index + i) for i, log in enumerate(block.receipts[tx_index].logs)]


def encode_receipt(block: Block, index: int) -> dict[str, Any]:
    tx = block.transactions[index]
    receipt: Receipt = block.receipts[index]
    previous = block.receipts[index - 1].cumulative_gas_used if index else 0
    return {
        "transactionHash": d(tx.hash),
        "transactionIndex": q(index),
        "blockHash": d(block.hash),
        "blockNumber": q(block.header.number),
        "from": addr(tx.sender),
        "to": addr(tx.to),
        "cumulativeGasUsed": q(receipt.cumulative_gas_used),
        "gasUsed": q(receipt.cumulative_gas_used - previous),
        "contractAddress": addr(compute_contract_address(tx.sender, tx.nonce)) if tx.to is None else None,
        "logs": encode_logs_of(block, index, first_log_index(block, index)),
        "logsBloom": d(receipt.bloom),
        "type": q(tx.type),
        "status": q(1 if receipt.success else 0),
        "effectiveGasPrice": q(tx.effective_gas_price(block.header.base_fee_per_gas)),
    }
