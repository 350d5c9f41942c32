#!/usr/bin/env python3
"""The four native pallets from web3.py, as the README shows them.

    ./scripts/dev                                     # in one terminal
    .venv/bin/python scripts/examples/pallets.py      # in another  [--rpc URL]

Writes the pallets' ABIs with `chameleon pallets abi` (into a temporary directory), then with
the node's funded dev accounts: a vesting schedule released after time travel; an escrow
disputed and split 30/70 by its arbiter; a store created, a product listed, bought, shipped,
confirmed and rated; a governance proposal that sets escrow's confirm window, voted, executed
and unlocked. Prints what it sees; exits 1 with `FAILED: ...` on the first thing that is not
as expected.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]
ETH = 10**18


class Failed(Exception):
    pass


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="the node's JSON-RPC URL")
    args = parser.parse_args()

    abi_dir = Path(tempfile.mkdtemp(prefix="chameleon-abi-"))
    subprocess.run([str(ROOT / ".venv" / "bin" / "chameleon"), "pallets", "abi", "--out", str(abi_dir)],
                   check=True, capture_output=True)
    w3 = Web3(Web3.HTTPProvider(args.rpc))
    alice, bob, carol = w3.eth.accounts[:3]

    def pallet(name: str, address: str):
        return w3.eth.contract(address, abi=json.loads((abi_dir / f"{name}.abi.json").read_text()))

    def mine(fn, **tx):
        receipt = w3.eth.wait_for_transaction_receipt(fn.transact(tx))
        expect(receipt["status"] == 1, f"{fn.fn_name} failed: {receipt['transactionHash'].hex()}")
        return receipt

    def travel(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    now = w3.eth.get_block("latest").timestamp

    # vesting: 1 ETH for bob over an hour; half vested after half an hour.
    vesting = pallet("vesting", "0x0000000000000000000000000000000000000801")
    r = mine(vesting.functions.createSchedule(bob, now, 0, 3600, True), **{"from": alice, "value": ETH})
    sid = vesting.events.ScheduleCreated().process_receipt(r)[0]["args"]["id"]
    travel(1800)
    before = w3.eth.get_balance(bob)
    r = mine(vesting.functions.release(sid), **{"from": carol})
    paid = vesting.events.Released().process_receipt(r)[0]["args"]["amount"]
    expect(w3.eth.get_balance(bob) == before + paid and ETH // 2 <= paid < ETH, f"vesting paid {paid}")
    print(f"vesting: schedule {sid} released {paid / ETH:.4f} ETH to {bob}")

    # escrow: alice pays bob through carol; a dispute, split 30/70.
    escrow = pallet("escrow", "0x0000000000000000000000000000000000000802")
    now = w3.eth.get_block("latest").timestamp
    r = mine(escrow.functions.open(bob, carol, now + 86400, b"\x01" * 32), **{"from": alice, "value": ETH})
    eid = escrow.events.Opened().process_receipt(r)[0]["args"]["id"]
    mine(escrow.functions.dispute(eid), **{"from": alice})
    bob_before = w3.eth.get_balance(bob)
    r = mine(escrow.functions.resolve(eid, 3000), **{"from": carol})
    resolved = escrow.events.Resolved().process_receipt(r)[0]["args"]
    expect(resolved["toBuyer"] == 3 * ETH // 10 and w3.eth.get_balance(bob) == bob_before + 7 * ETH // 10,
           f"escrow split {dict(resolved)}")
    print(f"escrow: {eid} resolved, {resolved['toBuyer'] / ETH} ETH back to the buyer, "
          f"{resolved['toSeller'] / ETH} ETH to the seller")

    # stores: bob's store sells alice two mugs through an escrow.
    stores = pallet("stores", "0x0000000000000000000000000000000000000803")
    r = mine(stores.functions.createStore("Bob's", "ipfs://catalog"), **{"from": bob})
    store_id = stores.events.Transfer().process_receipt(r)[0]["args"]["tokenId"]
    r = mine(stores.functions.listProduct(store_id, ETH // 10, 5, "ipfs://mug"), **{"from": bob})
    pid = stores.events.ProductListed().process_receipt(r)[0]["args"]["productId"]
    r = mine(stores.functions.buy(pid, 2), **{"from": alice, "value": 2 * ETH // 10})
    order = stores.events.Purchased().process_receipt(r)[0]["args"]["escrowId"]
    mine(escrow.functions.markShipped(order), **{"from": bob})
    bob_before = w3.eth.get_balance(bob)
    mine(escrow.functions.confirm(order), **{"from": alice})
    expect(w3.eth.get_balance(bob) == bob_before + 2 * ETH // 10, "the store owner was not paid")
    mine(stores.functions.rate(order, 5), **{"from": alice})
    owner, name, _, completed, rating_sum, ratings = stores.functions.store(store_id).call()
    expect((owner, completed, rating_sum, ratings) == (bob, 1, 5, 1), f"store {store_id}: {completed=} {ratings=}")
    print(f"stores: store {store_id} ({name!r}, an ERC-721 owned by {stores.functions.ownerOf(store_id).call()}) "
          f"sold order {order}, rated {rating_sum}/{ratings}")

    # governance: set escrow's confirm window to an hour by a vote.
    gov = pallet("governance", "0x0000000000000000000000000000000000000804")
    key = b"confirmWindow".ljust(32, b"\x00")
    data = gov.encode_abi("setParameter", [escrow.address, key, 3600])
    r = mine(gov.functions.propose(gov.address, data, 0, "shorter confirm window"), **{"from": alice, "value": ETH})
    prop = gov.events.Proposed().process_receipt(r)[0]["args"]["id"]
    mine(gov.functions.vote(prop, 1), **{"from": bob, "value": 2 * ETH})
    travel(4 * 86400)
    mine(gov.functions.execute(prop), **{"from": carol})
    window = gov.functions.getParameter(escrow.address, key).call()
    expect(window == 3600, f"confirmWindow is {window}")
    bob_before = w3.eth.get_balance(bob)
    r = mine(gov.functions.unlock(prop), **{"from": bob})
    fee = r["gasUsed"] * r["effectiveGasPrice"]
    expect(w3.eth.get_balance(bob) == bob_before + 2 * ETH - fee, "the vote lock did not come back")
    print(f"governance: proposal {prop} executed, escrow confirmWindow = {window} s; "
          f"treasury holds {gov.functions.treasuryBalance().call() / ETH:.6f} ETH")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
