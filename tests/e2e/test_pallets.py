"""Native pallets on a real `chameleon dev`, used as dApps use contracts: web3.py with the
generated ABI, time travel, logs; and a Solidity contract calling the pallet with value.
"""
from __future__ import annotations


import pytest
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from tests.e2e.nodes import DEV_ADDRESSES, RpcFailure

pytestmark = pytest.mark.e2e

VESTING = "0x0000000000000000000000000000000000000801"
ESCROW = "0x0000000000000000000000000000000000000802"
ETH = 10**18

PALLET_USER = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import "./IVesting.sol";
import "./IEscrow.sol";

/// Vests what it is sent through the vesting pallet, as the schedule's creator; buys through
/// the escrow pallet, as the buyer.
contract PalletUser {
    function vestFor(address beneficiary, uint64 cliff, uint64 duration) external payable returns (uint256) {
        return IVesting(VESTING_PALLET).createSchedule{value: msg.value}(
            beneficiary, uint64(block.timestamp), cliff, duration, true);
    }
    function revokeIt(uint256 id) external { IVesting(VESTING_PALLET).revoke(id); }
    function releasableOf(uint256 id) external view returns (uint256) { return IVesting(VESTING_PALLET).releasable(id); }
    /// Tries to revoke a schedule it did not create; returns the error's selector.
    function tryRevoke(uint256 id) external returns (bytes4) {
        try IVesting(VESTING_PALLET).revoke(id) { return 0; } catch (bytes memory reason) { return bytes4(reason); }
    }
    function buy(address seller, address arbiter, uint64 deadline) external payable returns (uint256) {
        return IEscrow(ESCROW_PALLET).open{value: msg.value}(seller, arbiter, deadline, keccak256("order"));
    }
    function confirmIt(uint256 id) external { IEscrow(ESCROW_PALLET).confirm(id); }
    /// Confirms, and on a failure returns the escrow error's selector instead of reverting.
    function tryConfirm(uint256 id) external returns (bytes4) {
        try IEscrow(ESCROW_PALLET).confirm(id) { return 0; } catch (bytes memory reason) { return bytes4(reason); }
    }
}
"""


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="pallets")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


@pytest.fixture(scope="module")
def generated(pallet_artifacts):
    """What `chameleon pallets abi --out DIR` writes."""
    return {"abi": pallet_artifacts.abi("vesting"), "sol": pallet_artifacts.sol("IVesting"),
            "escrow_abi": pallet_artifacts.abi("escrow"), "escrow_sol": pallet_artifacts.sol("IEscrow")}


@pytest.fixture(scope="module")
def vesting(w3, generated):
    return w3.eth.contract(address=w3.to_checksum_address(VESTING), abi=generated["abi"])


def test_chameleon_pallets_lists_every_pallet(node, generated):
    entries = node.rpc("chameleon_pallets")
    assert [(e["name"], e["address"].lower()) for e in entries] == [
        ("vesting", VESTING), ("escrow", "0x0000000000000000000000000000000000000802"),
        ("stores", "0x0000000000000000000000000000000000000803"),
        ("governance", "0x0000000000000000000000000000000000000804"),
    ]
    assert all(e["paused"] is False for e in entries)
    params = {e["name"]: e["parameters"] for e in entries}
    assert params["escrow"]["confirmWindow"]["value"] == hex(7 * 86400)
    assert params["governance"]["feeShareBps"] == {**params["governance"]["feeShareBps"], "value": "0x3e8",
                                                  "default": "0x3e8"}
    entry = entries[0]
    assert entry["address"].lower() == VESTING
    assert entry["abi"] == generated["abi"]
    assert entry["interface"] == generated["sol"]


def test_schedule_time_travel_release(node, w3, vesting):
    creator, ben, anyone = DEV_ADDRESSES[0], DEV_ADDRESSES[1], DEV_ADDRESSES[2]
    now = w3.eth.get_block("latest")["timestamp"]
    create = vesting.functions.createSchedule(ben, now, 100, 1000, True)
    assert create.call({"from": creator, "value": 10 * ETH}) == 1
    gas = create.estimate_gas({"from": creator, "value": 10 * ETH})
    receipt = w3.eth.wait_for_transaction_receipt(create.transact({"from": creator, "value": 10 * ETH, "gas": gas}))
    assert receipt["status"] == 1 and receipt["gasUsed"] <= gas
    (created,) = vesting.events.ScheduleCreated().process_receipt(receipt)
    assert created["args"] == {"id": 1, "creator": creator, "beneficiary": ben, "amount": 10 * ETH}
    assert w3.eth.get_balance(w3.to_checksum_address(VESTING)) == 10 * ETH
    assert vesting.functions.schedulesOf(ben).call() == [1]

    with pytest.raises(ContractCustomError) as exc:  # before the cliff
        vesting.functions.release(1).call({"from": anyone})
    assert exc.value.data[:10] == "0x" + keccak(text="NothingToRelease(uint256)")[:4].hex()

    node.advance(500)
    ben_before = w3.eth.get_balance(ben)
    receipt = w3.eth.wait_for_transaction_receipt(vesting.functions.release(1).transact({"from": anyone}))
    assert receipt["status"] == 1
    block_ts = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    paid = 10 * ETH * min(block_ts - now, 1000) // 1000
    assert paid >= 5 * ETH
    assert w3.eth.get_balance(ben) == ben_before + paid  # anyone paid the gas, not the beneficiary

    logs = w3.eth.get_logs({"address": w3.to_checksum_address(VESTING), "fromBlock": 0,
                            "topics": ["0x" + keccak(text="Released(uint256,uint256)").hex()]})
    assert len(logs) == 1
    assert vesting.events.Released().process_log(logs[0])["args"] == {"id": 1, "amount": paid}

    node.advance(2000)
    rest = vesting.functions.releasable(1).call()
    assert rest == 10 * ETH - paid
    vesting.functions.release(1).transact({"from": anyone})
    assert w3.eth.get_balance(w3.to_checksum_address(VESTING)) == 0


def test_value_on_non_payable_and_named_errors(node, w3, vesting):
    # web3 refuses value for a nonpayable function before sending; raw JSON-RPC does not
    data = "0x" + keccak(text="revoke(uint256)")[:4].hex() + "00" * 31 + "01"
    call = {"from": DEV_ADDRESSES[3], "to": VESTING, "data": data, "value": "0x1"}
    with pytest.raises(RpcFailure) as failure:
        node.rpc("eth_call", call, "latest")
    assert failure.value.code == 3
    assert failure.value.data == "0x" + keccak(text="NotPayable(uint256)")[:4].hex() + "00" * 31 + "01"
    with pytest.raises(RpcFailure):
        node.rpc("eth_estimateGas", call)
    with pytest.raises(ContractCustomError) as exc:
        vesting.functions.revoke(1).call({"from": DEV_ADDRESSES[3]})
    assert exc.value.data[:10] == "0x" + keccak(text="NotCreator(uint256)")[:4].hex()
    # a failing transaction is mined with status 0 and leaves the schedule as it was
    before = vesting.functions.schedule(1).call()
    tx = vesting.functions.revoke(1).transact({"from": DEV_ADDRESSES[3], "gas": 200_000})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    assert vesting.functions.schedule(1).call() == before


@pytest.fixture(scope="module")
def pallet_user(w3, generated):
    """PalletUser compiled against the generated IVesting.sol and IEscrow.sol, deployed."""
    from tests.contracts.compile import _check_toolchain, _run_solc, _settings

    sources = {"IVesting.sol": {"content": generated["sol"]}, "IEscrow.sol": {"content": generated["escrow_sol"]},
               "PalletUser.sol": {"content": PALLET_USER}}
    output = _run_solc(_check_toolchain(), {"language": "Solidity", "sources": sources,
                                            "settings": _settings(list(sources))})
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    art = output["contracts"]["PalletUser.sol"]["PalletUser"]
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["evm"]["bytecode"]["object"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": DEV_ADDRESSES[4]}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


def test_solidity_contract_calls_the_vesting_pallet_with_value(node, w3, vesting, pallet_user):
    user = pallet_user

    ben = DEV_ADDRESSES[5]
    sid = user.functions.vestFor(ben, 0, 100).call({"from": DEV_ADDRESSES[4], "value": 3 * ETH})
    receipt = w3.eth.wait_for_transaction_receipt(
        user.functions.vestFor(ben, 0, 100).transact({"from": DEV_ADDRESSES[4], "value": 3 * ETH}))
    assert receipt["status"] == 1
    (created,) = vesting.events.ScheduleCreated().process_receipt(receipt)
    assert created["args"]["id"] == sid
    assert created["args"]["creator"] == user.address  # the contract is msg.sender to the pallet
    assert vesting.functions.schedule(sid).call()[7] == 3 * ETH

    assert user.functions.tryRevoke(1).call() == keccak(text="NotCreator(uint256)")[:4]
    node.advance(10)
    assert user.functions.releasableOf(sid).call() > 0
    receipt = w3.eth.wait_for_transaction_receipt(user.functions.revokeIt(sid).transact({"from": DEV_ADDRESSES[4]}))
    assert receipt["status"] == 1
    (revoked,) = vesting.events.Revoked().process_receipt(receipt)
    vested = vesting.functions.releasable(sid).call()
    assert revoked["args"]["refunded"] + vested == 3 * ETH
    assert w3.eth.get_balance(user.address) == revoked["args"]["refunded"]


def test_solidity_contract_buys_through_the_escrow_pallet(node, w3, generated, pallet_user):
    escrow = w3.eth.contract(address=w3.to_checksum_address(ESCROW), abi=generated["escrow_abi"])
    seller, arbiter, payer = DEV_ADDRESSES[6], DEV_ADDRESSES[7], DEV_ADDRESSES[4]
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    eid = pallet_user.functions.buy(seller, arbiter, deadline).call({"from": payer, "value": 2 * ETH})
    receipt = w3.eth.wait_for_transaction_receipt(
        pallet_user.functions.buy(seller, arbiter, deadline).transact({"from": payer, "value": 2 * ETH}))
    assert receipt["status"] == 1
    (opened,) = escrow.events.Opened().process_receipt(receipt)
    assert opened["args"]["id"] == eid
    assert escrow.functions.escrow(eid).call()[0] == pallet_user.address  # the contract is the buyer
    w3.eth.wait_for_transaction_receipt(escrow.functions.markShipped(eid).transact({"from": seller}))

    seller_before = w3.eth.get_balance(seller)
    receipt = w3.eth.wait_for_transaction_receipt(pallet_user.functions.confirmIt(eid).transact({"from": payer}))
    assert receipt["status"] == 1
    assert w3.eth.get_balance(seller) == seller_before + 2 * ETH
    # A second confirm fails inside the pallet; the contract catches the named error.
    selector = pallet_user.functions.tryConfirm(eid).call({"from": payer})
    names = {keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")[:4]: e["name"]
             for e in generated["escrow_abi"] if e["type"] == "error"}
    assert selector in names, selector.hex()


def test_ethers_uses_every_pallet(node):
    """tests/e2e/js/ethers_pallets.mjs: ABIs from chameleon_pallets, value, events, time travel,
    custom errors decoded by name, the stores NFT as ERC-721."""
    import subprocess

    from tests.e2e.nodes import REPO_ROOT, tail
    from tests.e2e.test_js_clients import _last_json_line, _needs

    _needs("ethers")
    script = REPO_ROOT / "tests" / "e2e" / "js" / "ethers_pallets.mjs"
    proc = subprocess.run(["node", str(script), node.url], capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
    result = _last_json_line(proc.stdout)
    context = (f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
               f"\n--- node stderr ---\n{tail(node.stderr_path)}")
    assert result is not None and result.get("ok") is True, context
    assert len(result["checks"]) == 7, context
