"""The governance pallet on a real `chameleon dev`, used as dApps use contracts: web3.py with the
generated ABI, time travel over the voting period and the enactment delay, events, named errors,
and the treasury's share of the fees, accounted exactly from receipts.
"""
from __future__ import annotations


import pytest
from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from tests.e2e.nodes import DEV_ADDRESSES

pytestmark = pytest.mark.e2e

GOVERNANCE = "0x0000000000000000000000000000000000000804"
ETH = 10**18
DAY = 86_400
FEE_SHARE_BPS = 1000  # the default feeShareBps: dev.json sets no governance section
ACTIVE, PASSED, EXECUTED = 1, 2, 4


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="governance")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


@pytest.fixture(scope="module")
def abi(pallet_artifacts):
    return pallet_artifacts.abi("governance")


@pytest.fixture(scope="module")
def gov(w3, abi):
    return w3.eth.contract(address=w3.to_checksum_address(GOVERNANCE), abi=abi)


def decode_custom_error(abi: list[dict], data: str) -> tuple[str, tuple]:
    """The ABI error whose selector leads the revert data: its name and decoded arguments."""
    raw = bytes.fromhex(data[2:])
    for item in abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            if function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})") == raw[:4]:
                return item["name"], tuple(abi_decode(types, raw[4:]))
    raise AssertionError(f"no error of the ABI matches {data}")


def send(w3, fn, sender: str, value: int = 0) -> dict:
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "value": value}))
    assert receipt["status"] == 1, receipt
    return receipt


def gas_cost(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def fee_share(w3, receipt) -> int:
    """What the block of ``receipt`` (automine: one transaction) credited the treasury from fees."""
    base_fee = w3.eth.get_block(receipt["blockNumber"])["baseFeePerGas"]
    return receipt["gasUsed"] * base_fee * FEE_SHARE_BPS // 10_000


def pass_proposal(node, w3, gov, target: str, data: str, value: int = 0, description: str = "") -> tuple[int, dict]:
    """Propose (1 ETH deposit) and vote 2 ETH for it; the id and the vote's receipt."""
    proposer, voter = DEV_ADDRESSES[0], DEV_ADDRESSES[1]
    receipt = send(w3, gov.functions.propose(target, data, value, description), proposer, value=ETH)
    (proposed,) = gov.events.Proposed().process_receipt(receipt, errors=DISCARD)
    pid = proposed["args"]["id"]
    assert proposed["args"]["proposer"] == proposer and proposed["args"]["description"] == description
    vote = send(w3, gov.functions.vote(pid, 1), voter, value=2 * ETH)
    (voted,) = gov.events.Voted().process_receipt(vote, errors=DISCARD)
    assert voted["args"] == {"id": pid, "voter": voter, "support": 1, "weight": 2 * ETH}
    return pid, vote


def test_a_proposal_spends_from_the_treasury(node, w3, gov):
    proposer, voter, executor, recipient, funder = (DEV_ADDRESSES[i] for i in (0, 1, 2, 8, 9))
    gov_address = w3.to_checksum_address(GOVERNANCE)

    locked_at_start = gov.functions.lockedBalance().call()  # other tests' locks, if they ran first
    # The treasury is funded; the same block's fee share lands in it too.
    before = w3.eth.get_balance(gov_address)
    receipt = send(w3, gov.functions.fundTreasury(), funder, value=5 * ETH)
    (funded,) = gov.events.TreasuryFunded().process_receipt(receipt, errors=DISCARD)
    assert funded["args"] == {"from": funder, "amount": 5 * ETH}
    assert w3.eth.get_balance(gov_address) == before + 5 * ETH + fee_share(w3, receipt)
    assert gov.functions.treasuryBalance().call() == \
        w3.eth.get_balance(gov_address) - gov.functions.lockedBalance().call()

    data = gov.encode_abi("treasurySpend", args=[recipient, 2 * ETH])
    voter_before = w3.eth.get_balance(voter)
    pid, vote = pass_proposal(node, w3, gov, gov_address, data, description="pay the recipient 2 ETH")
    assert w3.eth.get_balance(voter) == voter_before - 2 * ETH - gas_cost(vote)
    assert gov.functions.state(pid).call() == ACTIVE
    p = gov.functions.proposal(pid).call()
    assert p[0] == proposer and p[3] == ETH and p[4] == 2 * ETH and p[12] == bytes.fromhex(data[2:])

    with pytest.raises(ContractCustomError) as exc:  # the vote is still open
        gov.functions.execute(pid).call({"from": executor})
    assert decode_custom_error(gov.abi, exc.value.data) == ("NotPassed", (pid, ACTIVE))

    node.advance(3 * DAY + 10)
    assert gov.functions.state(pid).call() == PASSED
    with pytest.raises(ContractCustomError) as exc:
        gov.functions.execute(pid).call({"from": executor})
    assert decode_custom_error(gov.abi, exc.value.data) == ("EnactmentDelay", (pid, p[9]))
    node.advance(DAY)

    recipient_before, proposer_before = w3.eth.get_balance(recipient), w3.eth.get_balance(proposer)
    treasury_before = gov.functions.treasuryBalance().call()
    receipt = send(w3, gov.functions.execute(pid), executor)
    assert [e["args"]["id"] for e in gov.events.Passed().process_receipt(receipt, errors=DISCARD)] == [pid]
    (spent,) = gov.events.TreasurySpent().process_receipt(receipt, errors=DISCARD)
    assert spent["args"] == {"to": recipient, "amount": 2 * ETH}
    (executed,) = gov.events.Executed().process_receipt(receipt, errors=DISCARD)
    assert executed["args"]["id"] == pid
    assert w3.eth.get_balance(recipient) == recipient_before + 2 * ETH
    assert w3.eth.get_balance(proposer) == proposer_before + ETH  # the deposit, back as it passed
    assert gov.functions.treasuryBalance().call() == treasury_before - 2 * ETH + fee_share(w3, receipt)
    assert gov.functions.state(pid).call() == EXECUTED

    # The vote lock returns exactly, once.
    voter_before = w3.eth.get_balance(voter)
    receipt = send(w3, gov.functions.unlock(pid), voter)
    (unlocked,) = gov.events.Unlocked().process_receipt(receipt, errors=DISCARD)
    assert unlocked["args"] == {"id": pid, "account": voter, "amount": 2 * ETH}
    assert w3.eth.get_balance(voter) == voter_before + 2 * ETH - gas_cost(receipt)
    with pytest.raises(ContractCustomError) as exc:
        gov.functions.unlock(pid).call({"from": voter})
    assert decode_custom_error(gov.abi, exc.value.data) == ("AlreadyUnlocked", (pid, voter.lower()))
    assert gov.functions.lockedBalance().call() == locked_at_start


def test_a_proposal_sets_a_parameter(node, w3, gov):
    gov_address = w3.to_checksum_address(GOVERNANCE)
    key = b"votingPeriod".ljust(32, b"\x00")
    assert gov.functions.getParameter(gov_address, key).call() == 3 * DAY
    data = gov.encode_abi("setParameter", args=[gov_address, key, 3600])
    pid, _ = pass_proposal(node, w3, gov, gov_address, data, description="shorter votes")
    node.advance(4 * DAY + 10)
    receipt = send(w3, gov.functions.execute(pid), DEV_ADDRESSES[2])
    (changed,) = gov.events.ParameterSet().process_receipt(receipt, errors=DISCARD)
    assert changed["args"] == {"pallet": gov_address, "key": key, "value": 3600}
    assert gov.functions.getParameter(gov_address, key).call() == 3600
    send(w3, gov.functions.unlock(pid), DEV_ADDRESSES[1])

    # A new proposal votes for the new period.
    pid, _ = pass_proposal(node, w3, gov, DEV_ADDRESSES[7], "0x", description="a signal")
    p = gov.functions.proposal(pid).call()
    assert p[8] - p[7] == 3600

    # Out of range: the proposal's call fails and execute reverts with its return data.
    data = gov.encode_abi("setParameter", args=[gov_address, b"feeShareBps".ljust(32, b"\x00"), 10_001])
    bad, _ = pass_proposal(node, w3, gov, gov_address, data)
    node.advance(3600 + DAY + 10)
    with pytest.raises(ContractCustomError) as exc:
        gov.functions.execute(bad).call({"from": DEV_ADDRESSES[2]})
    name, (returndata,) = decode_custom_error(gov.abi, exc.value.data)
    assert name == "ExecutionFailed"
    assert decode_custom_error(gov.abi, "0x" + returndata.hex()) == \
        ("ParameterOutOfRange", (b"feeShareBps".ljust(32, b"\x00"), 10_001))


def test_named_errors_for_bad_calls(w3, gov):
    with pytest.raises(ContractCustomError) as exc:
        gov.functions.propose(DEV_ADDRESSES[3], "0x", 0, "cheap").call({"from": DEV_ADDRESSES[3], "value": 5})
    assert decode_custom_error(gov.abi, exc.value.data) == ("DepositTooLow", (ETH, 5))
    with pytest.raises(ContractCustomError) as exc:
        gov.functions.treasurySpend(DEV_ADDRESSES[3], 1).call({"from": DEV_ADDRESSES[3]})
    assert decode_custom_error(gov.abi, exc.value.data) == ("NotGovernance", ())
    with pytest.raises(ContractCustomError) as exc:
        gov.functions.state(10**6).call()
    assert decode_custom_error(gov.abi, exc.value.data) == ("UnknownProposal", (10**6,))
    # A failing transaction is mined with status 0 and changes nothing.
    locked = gov.functions.lockedBalance().call()
    tx = gov.functions.vote(10**6, 1).transact({"from": DEV_ADDRESSES[3], "value": ETH, "gas": 200_000})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    assert gov.functions.lockedBalance().call() == locked


def test_a_proposal_sets_another_pallets_parameter(node, w3, gov):
    escrow = w3.to_checksum_address("0x0000000000000000000000000000000000000802")
    key = b"confirmWindow".ljust(32, b"\x00")
    try:
        window = gov.functions.getParameter(escrow, key).call()
    except ContractCustomError as exc:
        assert decode_custom_error(gov.abi, exc.value.data)[0] == "UnknownParameter"
        pytest.skip("escrow declares no confirmWindow parameter")
    data = gov.encode_abi("setParameter", args=[escrow, key, window + 60])
    period = gov.functions.getParameter(gov.address, b"votingPeriod".ljust(32, b"\x00")).call()
    pid, _ = pass_proposal(node, w3, gov, gov.address, data, description="longer escrow window")
    node.advance(period + DAY + 10)
    receipt = send(w3, gov.functions.execute(pid), DEV_ADDRESSES[2])
    (changed,) = gov.events.ParameterSet().process_receipt(receipt, errors=DISCARD)
    assert changed["args"] == {"pallet": escrow, "key": key, "value": window + 60}
    assert gov.functions.getParameter(escrow, key).call() == window + 60
