"""The eth_, net_ and web3_ namespaces."""
from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account as StateAccount
from eth_account import Account
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode

from node import __version__
from node.call_state import CallReads
from node.chain import Block, StateUnavailable
from node.rpc import encode
from node.rpc.encode import d, q
from node.rpc.errors import EXECUTION_ERROR, EXECUTION_REVERTED, RpcError
from node.rpc.logs import (
    DEFAULT_MAX_LOGS_BLOCK_RANGE,
    DEFAULT_MAX_LOGS_RESULTS,
    logs_range_too_large,
    parse_log_criteria,
    too_many_logs,
)
from node.rpc.params import (
    BlockId,
    CallArgs,
    parse_address,
    parse_block_id,
    parse_bool,
    parse_call_args,
    parse_data,
    parse_hash,
    parse_quantity,
)
from node.service import Node
from runtime.errors import InvalidTransaction
from runtime.executive import compute_child_base_fee
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import Header
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import StateDB
from vm import evm
from vm.host import BlockContext

SUGGESTED_TIP = 10**9  # 1 gwei, as Anvil suggests
MAX_FEE_HISTORY_BLOCKS = 1024
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
PANIC_REASONS = {
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


def decode_revert_reason(output: bytes) -> str | None:
    """The reason a Solidity revert carries: Error(string) or Panic(uint256)."""
    if output[:4] == ERROR_SELECTOR and len(output) >= 68:
        try:
            offset = int.from_bytes(output[4:36], "big")
            length = int.from_bytes(output[4 + offset : 36 + offset], "big")
            return output[36 + offset : 36 + offset + length].decode("utf-8", errors="replace")
        except (ValueError, IndexError):
            return None
    if output[:4] == PANIC_SELECTOR and len(output) >= 36:
        code = int.from_bytes(output[4:36], "big")
        return f"panic: {PANIC_REASONS.get(code, 'unknown panic code')} (0x{code:x})"
    return None


def revert_error(outcome: evm.Outcome) -> RpcError:
    if outcome.error == "execution reverted":
        reason = decode_revert_reason(outcome.output)
        message = f"execution reverted: {reason}" if reason else "execution reverted"
        return RpcError(EXECUTION_REVERTED, message, d(outcome.output))
    return RpcError(EXECUTION_ERROR, outcome.error or "execution failed")


class EthApi:
    """``max_logs_block_range`` and ``max_logs_results`` bound one eth_getLogs query (0: no limit)."""

    def __init__(
        self,
        node: Node,
        dev_keys: dict[bytes, bytes] | None = None,
        *,
        max_logs_block_range: int = DEFAULT_MAX_LOGS_BLOCK_RANGE,
        max_logs_results: int = DEFAULT_MAX_LOGS_RESULTS,
    ) -> None:
        self.node = node
        self.chain = node.chain
        self.dev_keys = dev_keys or {}
        self.max_logs_block_range = max_logs_block_range
        self.max_logs_results = max_logs_results
        self.call_reads = CallReads()

    def methods(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in dir(self) if name.split("_")[0] in ("eth", "net", "web3")}

    # -- helpers -------------------------------------------------------------------

    def _header(self, block: BlockId, index: int) -> Header:
        chain = self.chain
        if block.hash is not None:
            header = chain.get_header_by_hash(block.hash)
            if header is None:
                raise RpcError(-32001, f"block 0x{block.hash.hex()} not found")
            return header
        if block.number is not None:
            header = chain.get_header_by_number(block.number)
            if header is None:
                raise RpcError(-32001, f"block #{block.number} not found")
            return header
        if block.tag == "earliest":
            return chain.genesis
        if block.tag in ("safe", "finalized"):
            return chain.finalized  # the head itself under the dev sealer
        return chain.head

    def _block_or_none(self, block: BlockId) -> Block | None:
        try:
            header = self._header(block, 0)
        except RpcError:
            return None
        return self.chain.get_block_by_hash(header.hash)

    def _state(self, block_param: Any, index: int):
        block = parse_block_id(block_param, index)
        if block.tag in (None, "latest", "pending") and block.hash is None and block.number is None:
            return self.node.head_state
        try:
            return self.chain.state_at(self._header(block, index))
        except StateUnavailable as exc:  # fast-synced past it
            raise RpcError(EXECUTION_ERROR, str(exc)) from None

    # -- web3 / net ------------------------------------------------------------------

    async def web3_clientVersion(self) -> str:
        return f"chameleon/v{__version__}/{platform.system().lower()}/python{platform.python_version()}"

    async def web3_sha3(self, data: Any) -> str:
        return d(keccak256(parse_data(data, 0)))

    async def net_version(self) -> str:
        return str(self.chain.spec.chain_id)

    async def net_listening(self) -> bool:
        return True

    async def net_peerCount(self) -> str:
        return "0x0"

    # -- chain -----------------------------------------------------------------------

    async def eth_chainId(self) -> str:
        return q(self.chain.spec.chain_id)

    async def eth_blockNumber(self) -> str:
        return q(self.chain.head.number)

    async def eth_syncing(self) -> bool:
        return False

    async def eth_mining(self) -> bool:
        return True

    async def eth_hashrate(self) -> str:
        return "0x0"

    async def eth_coinbase(self) -> str:
        return encode.addr(self.chain.spec.coinbase)

    async def eth_accounts(self) -> list[str]:
        return [encode.addr(a) for a in self.dev_keys]

    async def eth_protocolVersion(self) -> str:
        return "0x41"

    # -- state -----------------------------------------------------------------------

    async def eth_getBalance(self, address: Any, block: Any = "latest") -> str:
        account = parse_address(address, 0)
        return q(self._state(block, 1).get_balance(account))

    async def eth_getTransactionCount(self, address: Any, block: Any = "latest") -> str:
        account = parse_address(address, 0)
        if block == "pending":
            return q(self.node.pending_nonce(account))
        return q(self._state(block, 1).get_nonce(account))

    async def eth_getCode(self, address: Any, block: Any = "latest") -> str:
        account = parse_address(address, 0)
        return d(self._state(block, 1).get_code(account))

    async def eth_getStorageAt(self, address: Any, slot: Any, block: Any = "latest") -> str:
        account = parse_address(address, 0)
        if isinstance(slot, str) and len(slot) == 66:
            key = int.from_bytes(parse_hash(slot, 1), "big")
        else:
            key = parse_quantity(slot, 1)
        return d(self._state(block, 2).get_storage(account, key).to_bytes(32, "big"))

    # -- fees ------------------------------------------------------------------------

    async def eth_gasPrice(self) -> str:
        return q(self.chain.next_base_fee + SUGGESTED_TIP)

    async def eth_maxPriorityFeePerGas(self) -> str:
        return q(SUGGESTED_TIP)

    async def eth_blobBaseFee(self) -> str:
        return "0x1"

    async def eth_feeHistory(self, block_count: Any, newest: Any, percentiles: Any = None) -> dict[str, Any]:
        count = parse_quantity(block_count, 0, bits=64)
        if count == 0:
            return {"oldestBlock": "0x0", "baseFeePerGas": [], "gasUsedRatio": [], "baseFeePerBlobGas": [], "blobGasUsedRatio": []}
        count = min(count, MAX_FEE_HISTORY_BLOCKS)
        newest_header = self._header(parse_block_id(newest, 1, allow_hash=False), 1)
        rewards_wanted: list[float] | None = None
        if percentiles is not None:
            if not isinstance(percentiles, list) or not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in percentiles):
                raise RpcError(-32602, "invalid argument 2: expected a list of percentiles")
            if any(p < 0 or p > 100 for p in percentiles) or percentiles != sorted(percentiles):
                raise RpcError(-32602, "invalid reward percentiles: must be ascending values in [0, 100]")
            rewards_wanted = list(percentiles)
        oldest = max(0, newest_header.number - count + 1)
        base_fees, ratios, rewards = [], [], []
        for number in range(oldest, newest_header.number + 1):
            block = self.chain.get_block_by_number(number)
            header = block.header
            base_fees.append(q(header.base_fee_per_gas))
            ratios.append(header.gas_used / header.gas_limit if header.gas_limit else 0.0)
            if rewards_wanted is not None:
                rewards.append([q(r) for r in _block_rewards(block, rewards_wanted)])
        base_fees.append(q(compute_child_base_fee(newest_header)))
        result: dict[str, Any] = {
            "oldestBlock": q(oldest),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
            "baseFeePerBlobGas": ["0x0"] * len(base_fees),
            "blobGasUsedRatio": [0.0] * len(ratios),
        }
        if rewards_wanted is not None:
            result["reward"] = rewards
        return result

    # -- blocks ----------------------------------------------------------------------

    async def eth_getBlockByNumber(self, block: Any, full: Any = False) -> dict | None:
        found = self._block_or_none(parse_block_id(block, 0, allow_hash=False))
        return encode.encode_block(found, parse_bool(full, 1)) if found else None

    async def eth_getBlockByHash(self, block_hash: Any, full: Any = False) -> dict | None:
        found = self.chain.get_block_by_hash(parse_hash(block_hash, 0))
        return encode.encode_block(found, parse_bool(full, 1)) if found else None

    async def eth_getBlockTransactionCountByNumber(self, block: Any) -> str | None:
        found = self._block_or_none(parse_block_id(block, 0, allow_hash=False))
        return q(len(found.transactions)) if found else None

    async def eth_getBlockTransactionCountByHash(self, block_hash: Any) -> str | None:
        found = self.chain.get_block_by_hash(parse_hash(block_hash, 0))
        return q(len(found.transactions)) if found else None

    async def eth_getUncleCountByBlockNumber(self, block: Any) -> str:
        return "0x0"

    async def eth_getUncleCountByBlockHash(self, block_hash: Any) -> str:
        return "0x0"

    async def eth_getBlockReceipts(self, block: Any) -> list | None:
        found = self._block_or_none(parse_block_id(block, 0))
        if found is None:
            return None
        return [encode.encode_receipt(found, i) for i in range(len(found.transactions))]

    # -- transactions ----------------------------------------------------------------

    async def eth_getTransactionByHash(self, tx_hash: Any) -> dict | None:
        wanted = parse_hash(tx_hash, 0)
        location = self.chain.get_transaction_location(wanted)
        if location is not None:
            block, index = location
            return encode.encode_transaction(block.transactions[index], block, index)
        pooled = self.node.pool.get(wanted)
        return encode.encode_transaction(pooled) if pooled is not None else None

    async def eth_getTransactionByBlockNumberAndIndex(self, block: Any, index: Any) -> dict | None:
        found = self._block_or_none(parse_block_id(block, 0, allow_hash=False))
        position = parse_quantity(index, 1, bits=32)
        if found is None or position >= len(found.transactions):
            return None
        return encode.encode_transaction(found.transactions[position], found, position)

    async def eth_getTransactionByBlockHashAndIndex(self, block_hash: Any, index: Any) -> dict | None:
        found = self.chain.get_block_by_hash(parse_hash(block_hash, 0))
        position = parse_quantity(index, 1, bits=32)
        if found is None or position >= len(found.transactions):
            return None
        return encode.encode_transaction(found.transactions[position], found, position)

    async def eth_getTransactionReceipt(self, tx_hash: Any) -> dict | None:
        location = self.chain.get_transaction_location(parse_hash(tx_hash, 0))
        if location is None:
            return None
        return encode.encode_receipt(*location)

    async def eth_sendRawTransaction(self, raw: Any) -> str:
        data = parse_data(raw, 0)
        try:
            tx = decode_transaction(data)
            await self.node.submit(tx)
        except InvalidTransaction as exc:
            raise RpcError(EXECUTION_ERROR, str(exc)) from None
        return d(tx.hash)

    async def eth_sendTransaction(self, tx_object: Any) -> str:
        args = parse_call_args(tx_object, 0)
        if args.sender is None:
            raise RpcError(-32602, "invalid argument 0: missing \"from\"")
        key = self.dev_keys.get(args.sender)
        if key is None:
            raise RpcError(EXECUTION_ERROR, f"unknown account 0x{args.sender.hex()}: only the dev accounts can sign here")
        if args.chain_id is not None and args.chain_id != self.chain.spec.chain_id:
            raise RpcError(EXECUTION_ERROR, f"invalid chain id for signer: have {args.chain_id} want {self.chain.spec.chain_id}")
        gas = args.gas if args.gas is not None else int(await self.eth_estimateGas(tx_object), 16)
        fields: dict[str, Any] = {
            "chainId": self.chain.spec.chain_id,
            "nonce": args.nonce if args.nonce is not None else self.node.pending_nonce(args.sender),
            "gas": gas,
            "value": args.value,
            "data": args.data,
        }
        if args.to is not None:
            fields["to"] = args.to
        if args.gas_price is not None:
            fields["gasPrice"] = args.gas_price
            if args.access_list:
                fields["accessList"] = _access_list_json(args.access_list)
        else:
            tip = args.max_priority_fee_per_gas if args.max_priority_fee_per_gas is not None else SUGGESTED_TIP
            max_fee = args.max_fee_per_gas if args.max_fee_per_gas is not None else 2 * self.chain.next_base_fee + tip
            fields.update(type=2, maxFeePerGas=max_fee, maxPriorityFeePerGas=min(tip, max_fee), accessList=_access_list_json(args.access_list))
        signed = Account.sign_transaction(fields, key)
        return await self.eth_sendRawTransaction(d(bytes(signed.raw_transaction)))

    # -- execution without a transaction ---------------------------------------------

    def _call(self, args: CallArgs, block_param: Any, index: int, gas: int | None = None) -> evm.Outcome:
        block = parse_block_id(block_param, index)
        header = self._header(block, index)
        pending = block.tag == "pending"
        fee_given = args.gas_price is not None or args.max_fee_per_gas is not None
        # As geth: a call that names no fee runs with base fee 0, so it needs no balance for gas.
        base_fee = (self.chain.next_base_fee if pending else header.base_fee_per_gas) if fee_given else 0
        context = BlockContext(
            number=header.number + 1 if pending else header.number,
            timestamp=self.node.next_timestamp() if pending else header.timestamp,
            gas_limit=header.gas_limit,
            base_fee=base_fee,
            coinbase=header.coinbase,
            chain_id=self.chain.spec.chain_id,
            prev_hashes=self._prev_hashes(header.number + 1 if pending else header.number),
        )
        if not self.chain.has_state(header):
            raise RpcError(EXECUTION_ERROR, str(StateUnavailable(header.number)))
        state = self.call_reads.open_state(StateDB(self.chain.store), context, header.state_root)
        max_fee = args.max_fee_per_gas if args.max_fee_per_gas is not None else (args.gas_price or 0)
        tip = args.max_priority_fee_per_gas if args.max_priority_fee_per_gas is not None else (args.gas_price or 0)
        if args.max_fee_per_gas is not None and args.max_priority_fee_per_gas is None:
            tip = 0
        try:
            return evm.call(
                state,
                sender=args.sender or b"\x00" * 20,
                to=args.to,
                data=args.data,
                value=args.value,
                gas=gas if gas is not None else (args.gas if args.gas is not None else header.gas_limit),
                max_fee_per_gas=max_fee,
                max_priority_fee_per_gas=min(tip, max_fee),
                access_list=args.access_list,
            )
        except evm.ExecutionRejected as exc:
            raise RpcError(EXECUTION_ERROR, _rejection_message(str(exc))) from None

    def _prev_hashes(self, number: int) -> Iterator[bytes]:
        """Hashes of the blocks before ``number``, newest first, read only if BLOCKHASH asks."""
        for n in range(number - 1, max(-1, number - 257), -1):
            block_hash = self.chain.get_canonical_hash(n)
            if block_hash is None:
                return
            yield block_hash

    async def eth_call(self, tx_object: Any, block: Any = "latest", state_overrides: Any = None) -> str:
        if state_overrides:
            raise RpcError(-32602, "invalid argument 2: state overrides are not supported yet")
        outcome = self._call(parse_call_args(tx_object, 0), block, 1)
        if not outcome.success:
            raise revert_error(outcome)
        return d(outcome.output)

    async def eth_estimateGas(self, tx_object: Any, block: Any = "pending") -> str:
        args = parse_call_args(tx_object, 0)
        header = self._header(parse_block_id(block, 1), 1)
        cap = args.gas if args.gas is not None else header.gas_limit
        if args.to is not None and not args.data and not self._state(block, 1).get_code(args.to):
            # A plain value transfer costs exactly 21000, as geth answers without executing.
            if args.value and self._call(args, block, 1, gas=21000).error:
                raise RpcError(EXECUTION_ERROR, "insufficient funds for transfer")
            return q(21000)
        outcome = self._call(args, block, 1, gas=cap)
        if not outcome.success:
            if outcome.error == "execution reverted":
                raise revert_error(outcome)
            raise RpcError(EXECUTION_ERROR, f"gas required exceeds allowance ({cap})" if outcome.error == "out of gas" else (outcome.error or "execution failed"))
        # The least gas that succeeds. No limit below gasUsed can (the execution itself, or the
        # EIP-7623 floor, takes that much), so when gasUsed itself succeeds it is the answer,
        # exact, after one more execution: most calls forward no gas and earn no refund.
        if outcome.gas_used < cap and self._call(args, block, 1, gas=outcome.gas_used).success:
            return q(outcome.gas_used)
        # Refunds and the 63/64 rule make it more than gasUsed: geth's guess, then a search.
        low, high = outcome.gas_used, cap
        guess = min(cap, (outcome.gas_used + 2300) * 64 // 63)
        if self._call(args, block, 1, gas=guess).success:
            high = guess
        else:
            low = guess
        while high - low > 1:
            # Stop within 1.5% as geth does; each probe is a full execution.
            if (high - low) * 1000 < high * 15:
                break
            middle = (low + high) // 2
            if self._call(args, block, 1, gas=middle).success:
                high = middle
            else:
                low = middle
        return q(high)

    # -- logs ------------------------------------------------------------------------

    async def eth_getLogs(self, filter_object: Any) -> list[dict[str, Any]]:
        criteria = parse_log_criteria(filter_object, self.node)
        if criteria.block_hash is not None:
            start = end = self.chain.get_header_by_hash(criteria.block_hash).number
            numbers: Iterable[int] = [start]
        else:
            head = self.chain.head.number
            start = criteria.from_number if criteria.from_number is not None else head
            end = min(criteria.to_number if criteria.to_number is not None else head, head)
            if self.max_logs_block_range and end - start + 1 > self.max_logs_block_range:
                raise logs_range_too_large(self.max_logs_block_range)
            numbers = self.chain.blocks_with_logs(start, end, criteria.addresses, criteria.topics)
        limit = self.max_logs_results
        results: list[dict[str, Any]] = []
        for number in numbers:
            header = self.chain.get_header_by_number(number)
            if header is None or not any(header.logs_bloom):
                continue
            block = self.chain.get_block_by_hash(header.hash)
            found = len(results)
            log_index = 0
            for tx_index, receipt in enumerate(block.receipts):
                for offset, log in enumerate(receipt.logs):
                    if criteria.matches(log):
                        results.append(encode.encode_log(block, tx_index, log, log_index + offset))
                log_index += len(receipt.logs)
            if limit and len(results) > limit:
                # Every block before this one fitted: suggest the range that ends there.
                raise too_many_logs(limit, (start, number - 1) if found and number > start else None)
        return results

    # -- proofs ----------------------------------------------------------------------

    async def eth_getProof(self, address: Any, storage_keys: Any, block: Any = "latest") -> dict[str, Any]:
        """EIP-1186: the account and the given storage slots with their Merkle proofs, as geth.

        Proof nodes are RLP, root first; a node short enough to be embedded in its parent
        (under 32 bytes) is not listed on its own, as geth lists them. An absent account or
        slot gets a proof of absence (the path up to where it would be).
        """
        account = parse_address(address, 0)
        if not isinstance(storage_keys, list):
            raise RpcError(-32602, "invalid argument 1: expected an array of storage keys")
        slots = [_parse_storage_key(key) for key in storage_keys]
        header = self._header(parse_block_id(block, 2), 2)
        db = StateDB(self.chain.store)
        try:
            state_trie = HexaryTrie(db, header.state_root)
            account_key = keccak256(account)
            account_proof = _encode_proof(state_trie.get_proof(account_key))
            encoded = state_trie.get(account_key)
            fields = rlp.decode(encoded, sedes=StateAccount) if encoded else StateAccount(0, 0, BLANK_ROOT_HASH, EMPTY_SHA3)
            storage_trie = HexaryTrie(db, fields.storage_root)
            storage_proof = []
            for slot, shown in slots:
                slot_key = keccak256(slot.to_bytes(32, "big"))
                value = storage_trie.get(slot_key)
                storage_proof.append({
                    "key": shown,
                    "value": q(rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0),
                    "proof": _encode_proof(storage_trie.get_proof(slot_key)),
                })
        except MissingTrieNode:
            raise RpcError(EXECUTION_ERROR, f"missing trie node: the state of block #{header.number} is not available") from None
        return {
            "address": encode.addr(account),
            "accountProof": account_proof,
            "balance": q(fields.balance),
            "codeHash": d(fields.code_hash),
            "nonce": q(fields.nonce),
            "storageHash": d(fields.storage_root),
            "storageProof": storage_proof,
        }


def _parse_storage_key(value: Any) -> tuple[int, str]:
    """A storage key as geth takes it: hex of at most 32 bytes. Returns the slot and the key as
    geth echoes it: a 32-byte key as given (lowercase), a shorter one as a quantity."""
    if not isinstance(value, str):
        raise RpcError(-32602, "invalid argument 1: expected hex storage keys")
    digits = value[2:] if value.startswith(("0x", "0X")) else value
    if len(digits) % 2:
        digits = "0" + digits
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise RpcError(-32602, f"invalid argument 1: invalid hex storage key {value!r}") from None
    if len(raw) > 32:
        raise RpcError(-32602, "invalid argument 1: hex string too long, want at most 32 bytes")
    slot = int.from_bytes(raw, "big")
    return slot, d(raw) if len(raw) == 32 else q(slot)


def _encode_proof(nodes: tuple) -> list[str]:
    encoded = [rlp.encode(node) for node in nodes]
    return [d(node) for i, node in enumerate(encoded) if i == 0 or len(node) >= 32]


def _access_list_json(access_list: tuple) -> list[dict[str, Any]]:
    return [{"address": "0x" + a.hex(), "storageKeys": ["0x" + k.to_bytes(32, "big").hex() for k in keys]} for a, keys in access_list]


def _rejection_message(text: str) -> str:
    if "cannot afford" in text or "enough balance" in text:
        return "insufficient funds for gas * price + value"
    if "lower than block's base fee" in text:
        return "max fee per gas less than block base fee"
    return text


def _block_rewards(block: Block, percentiles: list[float]) -> list[int]:
    """Effective tips at the given percentiles of gas used in the block (as geth)."""
    if not block.transactions:
        return [0] * len(percentiles)
    base_fee = block.header.base_fee_per_gas
    used = []
    previous = 0
    for tx, receipt in zip(block.transactions, block.receipts):
        used.append((tx.effective_tip(base_fee), receipt.cumulative_gas_used - previous))
        previous = receipt.cumulative_gas_used
    used.sort()
    total = block.header.gas_used
    rewards, index, cumulative = [], 0, used[0][1]
    for p in percentiles:
        threshold = total * p / 100
        while cumulative < threshold and index < len(used) - 1:
            index += 1
            cumulative += used[index][1]
        rewards.append(used[index][0])
    return rewards
