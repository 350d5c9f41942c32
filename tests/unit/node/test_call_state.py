"""eth_call and eth_estimateGas read through caches shared between calls (node/call_state.py).

Whatever a call reads must be the state it names, right after anything moved the head
(a block, evm_revert, each dev edit, a reset), and never what another call wrote."""
from __future__ import annotations

import trio
from eth_account import Account
from lru import LRU

from node.call_state import CallReads, SharedReads
from node.chain import Chain
from node.dev import dev_keys, dev_spec
from node.rpc.dev import DevApi
from node.rpc.errors import RpcError
from node.rpc.eth import EthApi
from node.service import Node
from node.txpool import TxPool
from runtime.primitives.receipt import compute_contract_address
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

DEV0, KEY0 = dev_keys()[0]
STORE = "0x" + "51" * 20
CLOCKED = "0x" + "52" * 20
CREATOR = "0x" + "53" * 20
# With calldata: SSTORE(0, calldata[0:32]). Always: return SLOAD(0).
STORE_CODE = "0x3615600b57600035600055" "5b60005460005260206000f3"
# Return (NUMBER, TIMESTAMP).
CLOCK_CODE = "0x43600052426020526040" "6000f3"
# Return CREATE(0, 0, 0): the address depends on this account's nonce.
CREATE_CODE = "0x600060006000f0" "60005260206000f3"
# Return SELFBALANCE.
BALANCE_CODE = "0x4760005260206000f3"
NOW = 1_900_000_000


def word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


class Dev:
    def __init__(self) -> None:
        self.clock = float(NOW)
        self.node = Node(Chain(MemoryStore(), dev_spec()), TxPool(), automine=False, clock=lambda: self.clock)
        self.eth = EthApi(self.node, dict(dev_keys()))
        self.dev = DevApi(self.node)
        self.nonce = 0

    async def stored(self, block: str = "latest") -> int:
        return int(await self.eth.eth_call({"to": STORE}, block), 16)

    async def store_in_call(self, value: int) -> int:
        return int(await self.eth.eth_call({"to": STORE, "data": word(value)}), 16)

    def seal_store(self, value: int) -> None:
        """A block whose one transaction stores ``value`` in STORE."""
        fields = {"chainId": 31337, "nonce": self.nonce, "gas": 100_000, "to": STORE, "data": word(value),
                  "type": 2, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
        self.nonce += 1
        tx = decode_transaction(bytes(Account.sign_transaction(fields, KEY0).raw_transaction))
        block = self.node.seal([tx])
        assert block.receipts[0].success


async def with_store(value: int = 7) -> Dev:
    d = Dev()
    await d.dev.anvil_setCode(STORE, STORE_CODE)
    await d.dev.anvil_setStorageAt(STORE, "0x0", word(value))
    return d


# -- isolation between calls ---------------------------------------------------------------


async def test_a_call_never_sees_what_another_call_wrote() -> None:
    d = await with_store(7)
    for value in (0x99, 0x1234, 0):
        assert await d.store_in_call(value) == value  # the call sees its own write
        assert await d.stored() == 7  # the next one does not
        assert await d.stored("pending") == 7
    # eth_estimateGas runs the writing call several times; none of it stays either.
    await d.eth.eth_estimateGas({"to": STORE, "data": word(0x55)})
    assert await d.stored() == 7
    assert await d.eth.eth_getStorageAt(STORE, "0x0") == word(7)


async def test_concurrent_calls_and_a_block_each_see_one_state() -> None:
    d = await with_store(7)
    seen: list[tuple[str, int]] = []

    async def writer(value: int) -> None:
        await trio.sleep(0)
        seen.append(("write", await d.store_in_call(value)))

    async def reader() -> None:
        await trio.sleep(0)
        seen.append(("read", await d.stored()))

    async with trio.open_nursery() as nursery:
        for i in range(20):
            nursery.start_soon(writer, 100 + i)
            nursery.start_soon(reader)
    assert sorted(v for kind, v in seen if kind == "write") == list(range(100, 120))
    assert [v for kind, v in seen if kind == "read"] == [7] * 20
    d.seal_store(8)
    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(reader)
    assert [v for kind, v in seen[40:]] == [8] * 5


async def test_a_call_that_fails_leaves_nothing_behind() -> None:
    d = await with_store(7)
    # Too little gas for the SSTORE: the call fails, after reading the slot's account.
    try:
        await d.eth.eth_call({"to": STORE, "data": word(0x99), "gas": "0x5400"})
    except RpcError:
        pass
    assert await d.stored() == 7
    assert await d.store_in_call(0x42) == 0x42
    assert await d.stored() == 7


async def test_interleaved_calls_at_different_blocks_each_see_their_own_state() -> None:
    d = await with_store(7)
    for value in (8, 9, 10):  # blocks 1, 2, 3
        d.seal_store(value)
    for _ in range(3):
        assert [await d.stored(block) for block in ("0x1", "latest", "0x2", "pending", "0x3")] == [8, 10, 9, 10, 10]
        assert await d.store_in_call(5) == 5
        assert await d.stored("0x1") == 8
    # Block 0's sealed state is genesis (the edits were made on top of it, as in Anvil).
    assert await d.eth.eth_call({"to": STORE}, "0x0") == "0x"


# -- the head moves ------------------------------------------------------------------------


async def test_calls_see_the_state_of_each_new_block() -> None:
    d = await with_store(7)
    assert await d.stored() == 7
    for value in (8, 9, 10):
        d.seal_store(value)
        assert await d.stored() == value
        assert await d.stored("pending") == value


async def test_calls_see_evm_revert() -> None:
    d = await with_store(7)
    snapshot = await d.dev.evm_snapshot()
    d.seal_store(8)
    await d.dev.anvil_setStorageAt(STORE, "0x0", word(11))
    assert await d.stored() == 11
    assert await d.dev.evm_revert(snapshot) is True
    assert await d.stored() == 7


async def test_calls_see_each_dev_edit_at_once() -> None:
    d = await with_store(7)
    await d.dev.anvil_setStorageAt(STORE, "0x0", word(70))
    assert await d.stored() == 70

    await d.dev.anvil_setCode(STORE, BALANCE_CODE)
    assert int(await d.eth.eth_call({"to": STORE}), 16) == 0
    await d.dev.anvil_setBalance(STORE, "0x77")
    assert int(await d.eth.eth_call({"to": STORE}), 16) == 0x77
    await d.dev.anvil_setBalance(STORE, "0x78")
    assert int(await d.eth.eth_call({"to": STORE}), 16) == 0x78

    await d.dev.anvil_setCode(CREATOR, CREATE_CODE)
    creator = bytes.fromhex(CREATOR[2:])
    for nonce in (0, 5, 6):
        if nonce:
            await d.dev.anvil_setNonce(CREATOR, hex(nonce))
        expected = compute_contract_address(creator, nonce)  # set by anvil_setCode: nonce 0
        assert await d.eth.eth_call({"to": CREATOR}) == word(int.from_bytes(expected, "big"))


async def test_calls_see_load_state_and_reset() -> None:
    d = await with_store(7)
    dump = await d.dev.anvil_dumpState()
    await d.dev.anvil_setStorageAt(STORE, "0x0", word(8))
    assert await d.stored() == 8
    assert await d.dev.anvil_loadState(dump) is True
    assert await d.stored() == 7
    await d.dev.anvil_reset()
    assert await d.eth.eth_call({"to": STORE}) == "0x"  # no code at genesis
    assert await d.eth.eth_getCode(STORE) == "0x"


async def test_an_edit_back_to_an_earlier_state_reads_that_state() -> None:
    # Two edits that return to a root seen before: the reads cached for it are that state's.
    d = await with_store(7)
    await d.dev.anvil_setStorageAt(STORE, "0x0", word(8))
    assert await d.stored() == 8
    await d.dev.anvil_setStorageAt(STORE, "0x0", word(7))
    assert await d.stored() == 7
    await d.dev.anvil_setStorageAt(STORE, "0x0", word(8))
    assert await d.stored() == 8


# -- block context -------------------------------------------------------------------------


async def test_latest_and_pending_calls_get_their_own_block_context() -> None:
    d = Dev()
    await d.dev.anvil_setCode(CLOCKED, CLOCK_CODE)
    d.node.seal([])
    head = d.node.chain.head
    d.clock = NOW + 100.0

    async def clock(block: str) -> tuple[int, int]:
        out = bytes.fromhex((await d.eth.eth_call({"to": CLOCKED}, block))[2:])
        return int.from_bytes(out[:32], "big"), int.from_bytes(out[32:], "big")

    for _ in range(2):
        assert await clock("latest") == (head.number, head.timestamp)
        assert await clock("pending") == (head.number + 1, NOW + 100)
        assert await clock("0x0") == (0, d.node.chain.genesis.timestamp)
    d.node.seal([])
    assert await clock("latest") == (head.number + 1, NOW + 100)


# -- eth_estimateGas -----------------------------------------------------------------------


async def test_estimate_is_the_least_gas_that_succeeds() -> None:
    d = await with_store(7)
    # No refund, no gas forwarded: gasUsed itself succeeds, and is the answer, exact.
    for call in ({"to": STORE}, {"to": STORE, "data": word(0x99)}):
        gas = int(await d.eth.eth_estimateGas(call), 16)
        await d.eth.eth_call({**call, "gas": hex(gas)})
        assert await fails(d, {**call, "gas": hex(gas - 1)})
    # Clearing the slot earns a refund: gasUsed is too little; the search ends within 1.5%.
    clear = {"to": STORE, "data": word(0)}
    gas = int(await d.eth.eth_estimateGas(clear), 16)
    await d.eth.eth_call({**clear, "gas": hex(gas)})
    assert await fails(d, {**clear, "gas": hex(gas * 985 // 1000)})
    assert await d.stored() == 7


async def fails(d: Dev, call: dict) -> bool:
    try:
        await d.eth.eth_call(call)
    except RpcError:
        return True
    return False


# -- the shared reads ----------------------------------------------------------------------


def test_shared_reads_serve_a_root_until_the_first_write() -> None:
    cache: LRU = LRU(16)
    backing = {b"k": b"v1"}
    reads = SharedReads(backing, cache, b"root1")
    assert reads[b"k"] == b"v1"
    backing[b"k"] = b"changed under it"  # never happens under a root; shows the cache answers
    assert reads[b"k"] == b"v1"
    reads[b"k"] = b"v2"  # a write of its own: from now on it reads its db
    assert reads[b"k"] == b"v2"
    assert cache[b"root1k"] == b"v1"  # and the shared entry for root1 is untouched
    other = SharedReads(backing, cache, b"root2")  # another root shares nothing
    assert other[b"k"] == b"v2"


def test_shared_reads_reset_detaches() -> None:
    cache: LRU = LRU(16)
    backing = {b"k": b"v1"}
    reads = SharedReads(backing, cache, b"r")
    reads.reset_cache()
    assert reads[b"k"] == b"v1"
    assert len(cache) == 0


def test_call_reads_are_bounded() -> None:
    reads = CallReads()
    for cache in (reads.accounts, reads.storage, reads.code, reads.decoded):
        assert cache.get_size() > 0
