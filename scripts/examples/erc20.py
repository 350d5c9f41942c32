#!/usr/bin/env python3
"""Deploy an OpenZeppelin ERC-20 on a running dev node, transfer, read the events back.

    ./scripts/dev                                   # in one terminal
    .venv/bin/python scripts/examples/erc20.py      # in another  [--rpc URL]

Nothing here is Chameleon-specific: it is what a dApp does against Anvil.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # for tests.contracts.compile (solc from node_modules)

from web3 import Web3  # noqa: E402

from tests.contracts.compile import compile_contracts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="node URL (default: %(default)s)")
    args = parser.parse_args()

    token = compile_contracts(["Token"])["Token"]
    w3 = Web3(Web3.HTTPProvider(args.rpc))
    if not w3.is_connected():
        print(f"no node at {args.rpc}: start one with ./scripts/dev", file=sys.stderr)
        return 1
    me, you = w3.eth.accounts[:2]

    factory = w3.eth.contract(abi=token.abi, bytecode=token.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor("Demo", "DMO", 10**24).transact({"from": me}))
    erc20 = w3.eth.contract(address=receipt.contractAddress, abi=token.abi)
    print(f"deployed {erc20.functions.symbol().call()} at {erc20.address} in block {receipt.blockNumber}")

    sent = w3.eth.wait_for_transaction_receipt(erc20.functions.transfer(you, 1000).transact({"from": me}))
    print(f"transfer: status {sent.status}, gas used {sent.gasUsed}")
    print(f"balance of {you}: {erc20.functions.balanceOf(you).call()}")
    for event in erc20.events.Transfer().get_logs(from_block=receipt.blockNumber):
        print(f"Transfer {event.args['from']} -> {event.args.to}: {event.args.value} (block {event.blockNumber})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
