"""The node's sealer with automine: answers every waiting sender, batches what arrives together."""
from __future__ import annotations

import pytest
import trio
from eth_account import Account

from node.chain import Chain
from node.dev import dev_keys, dev_spec
from node.service import Node
from node.txpool import TxPool
from runtime.errors import InvalidTransaction
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

KEYS = [Account.from_key(key) for _, key in dev_keys(3)]
TO = "0x" + "33" * 20


def tx(account, nonce: int, fee: int = 10**10, **extra):
    fields = {"chainId": 31337, "nonce": nonce, "gas": 21000, "to": TO, "value": 1, "type": 2, "maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9}
    fields.update(extra)
    return decode_transaction(bytes(account.sign_transaction(fields).raw_transaction))


@pytest.fixture
async def node(nursery):
    n = Node(Chain(MemoryStore(), dev_spec()), TxPool())
    await nursery.start(n.run)
    return n


async def test_concurrent_senders_share_a_block(node) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as senders:
            for account in KEYS:
                senders.start_soon(node.submit, tx(account, 0))
    assert node.chain.head.number == 1
    assert len(node.chain.get_block_by_number(1).transactions) == 3


async def test_replaced_transaction_does_not_leave_its_sender_waiting(node) -> None:
    cheap = tx(KEYS[0], 0, fee=10**10)
    dear = tx(KEYS[0], 0, fee=2 * 10**10, maxPriorityFeePerGas=2 * 10**9)
    outcomes: dict[str, str] = {}

    async def send(name, transaction):
        try:
            await node.submit(transaction)
            outcomes[name] = "answered"
        except InvalidTransaction as exc:
            outcomes[name] = str(exc)

    # trio may run the two senders in either order; whatever the order, both are answered.
    with trio.fail_after(10):
        async with trio.open_nursery() as senders:
            senders.start_soon(send, "cheap", cheap)
            senders.start_soon(send, "dear", dear)
    block = node.chain.get_block_by_number(1)
    assert [t.hash for t in block.transactions] == [dear.hash]
    assert outcomes["dear"] == "answered"
    assert outcomes["cheap"] == "answered" or "nonce too low" in outcomes["cheap"] or "underpriced" in outcomes["cheap"]
    assert len(node.pool) == 0


async def test_nonce_gap_answers_at_once_and_fills_later(node) -> None:
    with trio.fail_after(10):
        assert await node.submit(tx(KEYS[1], 1)) is not None  # queued behind nonce 0
        assert node.chain.head.number == 0 and len(node.pool) == 1
        await node.submit(tx(KEYS[1], 0))
    assert node.account_nonce(bytes.fromhex(KEYS[1].address[2:])) == 2
    assert len(node.pool) == 0


async def test_refusals_carry_client_words(node) -> None:
    await node.submit(tx(KEYS[2], 0))
    with pytest.raises(InvalidTransaction, match="nonce too low"):
        await node.submit(tx(KEYS[2], 0, fee=3 * 10**10))
    with pytest.raises(InvalidTransaction, match="max fee per gas less than block base fee"):
        await node.submit(tx(KEYS[2], 1, fee=1, maxPriorityFeePerGas=1))
    assert node.chain.head.number == 1
