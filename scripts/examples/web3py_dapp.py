#!/usr/bin/env python3
"""A time-locked vault with web3.py over WebSocket: deploy, follow events, snapshot, time travel.

    ./scripts/dev                                        # in one terminal
    .venv/bin/python scripts/examples/web3py_dapp.py     # in another  [--rpc URL]

Compiles tests/e2e/hardhat/contracts/Vault.sol with solc-js (from node_modules), then over one
WebSocket connection (AsyncWeb3 + WebSocketProvider; the node serves it on its HTTP port):
deploys the vault with 1 ETH locked for a day for the second dev account, subscribes to its
logs and to new heads (eth_subscribe), deposits, sees release() refused with TooEarly, takes
an evm_snapshot, travels a day ahead (evm_increaseTime + evm_mine), releases, reverts to the
snapshot and checks that the chain, the balances and the clock went back. Transactions come
from the node's dev accounts (eth_accounts + eth_sendTransaction), as with Anvil. The last
step is Chameleon's own: after evm_revert the logs subscription gets the reverted log again
with removed: true, as on a reorg (Anvil sends nothing there).

Prints what it sees; exits 1 with `FAILED: ...` on the first thing that is not as expected.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import AsyncWeb3, WebSocketProvider
from web3.exceptions import ContractCustomError

ROOT = Path(__file__).resolve().parents[2]
VAULT_SOL = ROOT / "tests" / "e2e" / "hardhat" / "contracts" / "Vault.sol"
SOLC_SHIM = ROOT / "tests" / "contracts" / "solc_compile.js"

ONE_DAY_S = 86_400
ETHER = 10**18
EVENT_TIMEOUT_S = 15.0
TOO_EARLY = keccak(text="TooEarly(uint256,uint256)")[:4]


class Failed(Exception):
    """Something the script checks was not as expected."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def compile_vault() -> tuple[list, str]:
    """Vault's ABI and creation bytecode, compiled by solc-js through tests/contracts/solc_compile.js."""
    node = shutil.which("node")
    if node is None:
        raise Failed("`node` is not on PATH (Node.js is installed by scripts/setup)")
    standard_input = {
        "language": "Solidity",
        "sources": {"Vault.sol": {"content": VAULT_SOL.read_text()}},
        "settings": {
            "evmVersion": "cancun",
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"Vault.sol": {"Vault": ["abi", "evm.bytecode.object"]}},
        },
    }
    proc = subprocess.run([node, str(SOLC_SHIM)], input=json.dumps(standard_input), capture_output=True,
                          text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise Failed(f"solc-js failed (did scripts/setup run npm ci?): {proc.stderr.strip()}")
    output = json.loads(proc.stdout)
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    expect(not errors, "solc: " + "\n".join(errors))
    vault = output["contracts"]["Vault.sol"]["Vault"]
    return vault["abi"], "0x" + vault["evm"]["bytecode"]["object"]


async def rpc(w3: AsyncWeb3, method: str, *params: Any) -> Any:
    """A JSON-RPC call web3.py has no method for (evm_snapshot, evm_mine, ...)."""
    response = await w3.provider.make_request(method, list(params))
    if "error" in response:
        raise Failed(f"{method}: {response['error']}")
    return response["result"]


async def next_matching(queue: asyncio.Queue, predicate, what: str) -> Any:
    """The first item on `queue` for which `predicate` holds (others are dropped)."""
    async def wait() -> Any:
        while True:
            item = await queue.get()
            if predicate(item):
                return item

    try:
        return await asyncio.wait_for(wait(), EVENT_TIMEOUT_S)
    except TimeoutError:
        raise Failed(f"{what}: nothing pushed within {EVENT_TIMEOUT_S:.0f}s") from None


def decode_too_early(w3: AsyncWeb3, error: ContractCustomError) -> tuple[int, int]:
    data = bytes.fromhex(str(error.data).removeprefix("0x"))
    expect(data[:4] == TOO_EARLY, f"expected TooEarly(uint256,uint256), got revert data {error.data}")
    release_time, block_time = w3.codec.decode(["uint256", "uint256"], data[4:])
    return release_time, block_time


async def run(url: str) -> None:
    abi, bytecode = compile_vault()
    async with AsyncWeb3(WebSocketProvider(url)) as w3:
        chain_id = await w3.eth.chain_id
        me, beneficiary = (await w3.eth.accounts)[:2]
        print(f"connected to {url}: chain {chain_id}, {await w3.client_version}")

        factory = w3.eth.contract(abi=abi, bytecode=bytecode)
        tx = await factory.constructor(beneficiary, ONE_DAY_S).transact({"from": me, "value": ETHER})
        receipt = await w3.eth.wait_for_transaction_receipt(tx)
        expect(receipt.status == 1, f"deployment failed: {receipt}")
        vault = w3.eth.contract(address=receipt.contractAddress, abi=abi)
        release_time = await vault.functions.releaseTime().call()
        print(f"deployed Vault at {vault.address}: 1 ETH for {beneficiary}, released from {release_time}")

        # Pushed over this WebSocket: the vault's logs and every new block header.
        logs: asyncio.Queue = asyncio.Queue()
        heads: asyncio.Queue = asyncio.Queue()

        async def on_log(context) -> None:
            await logs.put(context.result)

        async def on_head(context) -> None:
            await heads.put(context.result)

        await w3.eth.subscribe("logs", {"address": vault.address}, handler=on_log)
        await w3.eth.subscribe("newHeads", handler=on_head)
        handling = asyncio.create_task(w3.subscription_manager.handle_subscriptions())
        try:
            await story(w3, vault, me, beneficiary, release_time, logs, heads)
        finally:
            await w3.subscription_manager.unsubscribe_all()
            await asyncio.wait_for(handling, EVENT_TIMEOUT_S)


async def story(w3, vault, me, beneficiary, release_time, logs, heads) -> None:
    deposited, released = vault.events.Deposited(), vault.events.Released()

    tx = await vault.functions.deposit().transact({"from": me, "value": ETHER // 2})
    await w3.eth.wait_for_transaction_receipt(tx)
    log = await next_matching(logs, lambda entry: entry["transactionHash"] == tx, "Deposited log")
    event = deposited.process_log(log)
    expect(event.args["from"] == me and event.args.amount == ETHER // 2, f"Deposited {dict(event.args)}")
    print(f"ws logs: Deposited {event.args.amount / ETHER} ETH from {event.args['from']} (block {log['blockNumber']})")

    try:
        await vault.functions.release().call({"from": me})
        raise Failed("release() before the release time did not revert")
    except ContractCustomError as error:
        when, now = decode_too_early(w3, error)
        expect(when == release_time, f"TooEarly.releaseTime {when} != {release_time}")
        print(f"release before the time: reverted TooEarly(releaseTime={when}, blockTime={now})")

    snapshot = await rpc(w3, "evm_snapshot")
    head = await w3.eth.get_block("latest")
    balance_before = await w3.eth.get_balance(beneficiary)
    print(f"snapshot {snapshot} at block {head.number}, time {head.timestamp}")

    await rpc(w3, "evm_increaseTime", ONE_DAY_S)
    await rpc(w3, "evm_mine")
    new_head = await next_matching(heads, lambda h: h["number"] == head.number + 1, "newHeads")
    expect(new_head["timestamp"] >= head.timestamp + ONE_DAY_S, f"block time {new_head['timestamp']}")
    print(f"time travel: +{ONE_DAY_S} s, ws newHeads: block {new_head['number']} at {new_head['timestamp']}")

    tx = await vault.functions.release().transact({"from": me})
    receipt = await w3.eth.wait_for_transaction_receipt(tx)
    expect(receipt.status == 1, f"release failed: {receipt}")
    log = await next_matching(logs, lambda entry: entry["transactionHash"] == tx, "Released log")
    event = released.process_log(log)
    paid = await w3.eth.get_balance(beneficiary) - balance_before
    expect(event.args.amount == paid == 3 * ETHER // 2, f"Released {dict(event.args)}, beneficiary got {paid}")
    expect(await w3.eth.get_balance(vault.address) == 0, "the vault still holds ether after release()")
    print(f"ws logs: Released {event.args.amount / ETHER} ETH to {event.args.to} at {event.args.releasedAt}")

    reverted = await rpc(w3, "evm_revert", snapshot)
    expect(reverted is True, f"evm_revert answered {reverted!r}")
    back = await w3.eth.get_block("latest")
    expect((back.number, back.timestamp) == (head.number, head.timestamp),
           f"head after revert: block {back.number} at {back.timestamp}")
    expect(await w3.eth.get_balance(vault.address) == 3 * ETHER // 2, "vault balance not restored")
    expect(await w3.eth.get_balance(beneficiary) == balance_before, "beneficiary balance not restored")
    try:
        await vault.functions.release().call({"from": me})
        raise Failed("release() after evm_revert did not revert: the clock did not go back")
    except ContractCustomError as error:
        decode_too_early(w3, error)
    print(f"revert to snapshot: block {back.number} at {back.timestamp}, vault holds 1.5 ETH, "
          "release reverts TooEarly again")

    # As on a reorg, log subscribers get the reverted logs again with removed: true.
    log = await next_matching(logs, lambda entry: entry["transactionHash"] == tx, "removed Released log")
    expect(log["removed"] is True, f"log after revert: {dict(log)}")
    print(f"ws logs: Released again with removed={log['removed']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", default="ws://127.0.0.1:8545",
                        help="node URL, ws:// or http:// (same port) (default: %(default)s)")
    args = parser.parse_args()
    url = "ws" + args.rpc.removeprefix("http") if args.rpc.startswith("http") else args.rpc
    try:
        asyncio.run(run(url))
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"no node at {url} ({error}): start one with ./scripts/dev", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
