"""The governance pallet and its treasury: the lifecycle, governance-only calls reached through
``execute``, named errors that change nothing, the fee share, and random sequences against a model."""
from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from runtime.pallets import compute_abi, native_handlers
from runtime.pallets.framework import (
    CallContext,
    Pallet,
    Parameter,
    apply_parameter,
    call,
    encode_parameter_key,
    get_parameter,
    get_paused,
)
from runtime.pallets.governance import (
    GOVERNANCE_ADDRESS,
    Governance,
    compute_fee_share,
    compute_passed,
)
from runtime.pallets.vesting import VESTING_ADDRESS, Vesting
from tests.unit.pallets.harness import Runtime, checksum
from tests.unit.pallets.test_framework import decode_error
from vm import evm

ABI = compute_abi(Governance)
VESTING_ABI = compute_abi(Vesting)
GOV = GOVERNANCE_ADDRESS
ETH = 10**18
DAY = 86_400
PENDING, ACTIVE, PASSED, REJECTED, EXECUTED, CANCELED = range(6)
AGAINST, FOR, ABSTAIN = range(3)


def calldata(pallet: type[Pallet], name: str, *args) -> bytes:
    spec = next(c for c in pallet.calls if c.name == name)
    return spec.selector + abi_encode([a.type for a in spec.inputs], list(args))


def gov_data(name: str, *args) -> bytes:
    return calldata(Governance, name, *args)


def err(result) -> tuple[str, tuple]:
    assert not result.success, "the call succeeded"
    return decode_error(ABI, result.outcome.output)


def inner_err(result, abi=ABI) -> tuple[str, tuple]:
    """The error a proposal's call failed with, from ExecutionFailed(returndata)."""
    name, (returndata,) = err(result)
    assert name == "ExecutionFailed"
    return decode_error(abi, returndata)


def event_names(result) -> list[str]:
    by_topic = {e.topic: e.name for e in Governance.events}
    return [by_topic.get(log.topics[0], "?") for log in result.outcome.logs if log.address == GOV]


def storage_roots(rt: Runtime) -> dict[bytes, bytes]:
    return {p.address: rt.state._account_db._get_storage_root(p.address) for p in rt.pallets}  # noqa: SLF001


def assert_noop(rt: Runtime, sender: bytes, name: str, args: list, expected: tuple, value: int = 0) -> None:
    """The call fails with ``expected`` and moves no funds and writes no pallet storage."""
    before, roots = rt.balances(), storage_roots(rt)
    r = rt.call(sender, Governance, name, args, value=value)
    assert err(r) == expected
    assert rt.balances() == before
    assert storage_roots(rt) == roots


def propose(rt: Runtime, sender: bytes, target: bytes, data: bytes = b"", value: int = 0, deposit: int = ETH,
            description: str = "a proposal") -> int:
    r = rt.call(sender, Governance, "propose", [checksum(target), data, value, description], value=deposit)
    assert r.success, decode_error(ABI, r.outcome.output)
    return r.values[0]


def vote(rt: Runtime, sender: bytes, pid: int, support: int, weight: int):
    r = rt.call(sender, Governance, "vote", [pid, support], value=weight)
    assert r.success, decode_error(ABI, r.outcome.output)
    return r


def ok(result):
    assert result.success, decode_error(ABI, result.outcome.output)
    return result


def pass_and_execute(rt: Runtime, data: bytes, target: bytes = GOV, value: int = 0):
    """Propose, vote it through, wait out the vote and the enactment delay, execute; the result."""
    a, b = rt.accounts[0], rt.accounts[1]
    pid = propose(rt, a, target, data, value)
    vote(rt, b, pid, FOR, ETH)
    rt.advance(3 * DAY + DAY)
    return pid, rt.call(rt.accounts[2], Governance, "execute", [pid])


@pytest.fixture
def rt() -> Runtime:
    rt = Runtime(accounts=4, balance=1000 * ETH)
    ok(rt.call(rt.accounts[3], Governance, "fundTreasury", [], value=10 * ETH))
    return rt


# ---- pure functions ----

def test_compute_passed() -> None:
    assert compute_passed(2, 1, 0, 3)
    assert not compute_passed(2, 0, 0, 3)  # quorum not met
    assert compute_passed(1, 0, 2, 3)  # abstain counts toward quorum
    assert not compute_passed(5, 5, 0, 3)  # a tie is not for > against
    assert not compute_passed(0, 0, 0, 0)


def test_compute_fee_share() -> None:
    assert compute_fee_share(21_000, 10**9, 1000) == 21_000 * 10**8
    assert compute_fee_share(21_000, 10**9, 0) == 0
    assert compute_fee_share(21_000, 10**9, 10_000) == 21_000 * 10**9
    assert compute_fee_share(3, 3, 1) == 0  # rounds down: 9 / 10000
    assert compute_fee_share(0, 10**9, 1000) == 0


def test_parameters_and_abi() -> None:
    defaults = {name: p.default for name, p in Governance.parameters.items()}
    assert defaults == {"minDeposit": ETH, "votingDelay": 0, "votingPeriod": 3 * DAY, "enactmentDelay": DAY,
                        "quorum": ETH, "feeShareBps": 1000}
    assert Governance.parameters["votingPeriod"].minimum == 1
    assert Governance.parameters["feeShareBps"].maximum == 10_000
    functions = {f"{i['name']}({','.join(x['type'] for x in i['inputs'])})": i["stateMutability"]
                 for i in ABI if i["type"] == "function"}
    assert {k: functions[k] for k in (
        "propose(address,bytes,uint256,string)", "vote(uint256,uint8)", "execute(uint256)", "cancel(uint256)",
        "unlock(uint256)", "treasurySpend(address,uint256)", "setParameter(address,bytes32,uint256)",
        "pause(address)", "unpause(address)", "proposal(uint256)", "state(uint256)", "treasuryBalance()",
        "fundTreasury()")} == {
        "propose(address,bytes,uint256,string)": "payable", "vote(uint256,uint8)": "payable",
        "execute(uint256)": "nonpayable", "cancel(uint256)": "nonpayable", "unlock(uint256)": "nonpayable",
        "treasurySpend(address,uint256)": "nonpayable", "setParameter(address,bytes32,uint256)": "nonpayable",
        "pause(address)": "nonpayable", "unpause(address)": "nonpayable", "proposal(uint256)": "view",
        "state(uint256)": "view", "treasuryBalance()": "view", "fundTreasury()": "payable"}
    events = {i["name"]: i["inputs"][0] for i in ABI if i["type"] == "event"}
    for name in ("Proposed", "Voted", "Passed", "Rejected", "Executed", "Canceled"):
        assert (events[name]["name"], events[name]["type"], events[name]["indexed"]) == ("id", "uint256", True)


# ---- the lifecycle ----

def test_a_proposal_spends_from_the_treasury(rt) -> None:
    a, b, c, d = rt.accounts
    assert rt.view(Governance, "treasuryBalance") == 10 * ETH
    pid = propose(rt, a, GOV, gov_data("treasurySpend", checksum(d), 2 * ETH), description="pay d")
    assert pid == 1 and rt.view(Governance, "state", pid) == ACTIVE
    assert rt.view(Governance, "lockedBalance") == ETH
    assert rt.view(Governance, "treasuryBalance") == 10 * ETH  # the deposit is held, not treasury
    r = vote(rt, b, pid, FOR, 3 * ETH)
    assert event_names(r) == ["Voted"]
    vote(rt, c, pid, AGAINST, ETH)
    p = rt.view(Governance, "proposal", pid)
    assert p[0] == checksum(a).lower() and p[1] == checksum(GOV).lower()
    assert p[2:7] == (0, ETH, 3 * ETH, ETH, 0)
    assert p[8] == rt.timestamp + 3 * DAY and p[9] == p[8] + DAY and p[10] == ETH
    assert p[11] == "pay d" and p[12] == gov_data("treasurySpend", checksum(d), 2 * ETH)
    assert rt.view(Governance, "voteOf", pid, checksum(b)) == (FOR, 3 * ETH, False)
    assert rt.view(Governance, "lockedBalance") == 5 * ETH

    assert err(rt.call(b, Governance, "unlock", [pid])) == ("VoteNotEnded", (pid, p[8]))
    assert err(rt.call(d, Governance, "execute", [pid])) == ("NotPassed", (pid, ACTIVE))
    rt.advance(3 * DAY)
    assert rt.view(Governance, "state", pid) == PASSED
    assert err(rt.call(d, Governance, "execute", [pid])) == ("EnactmentDelay", (pid, p[9]))
    rt.advance(DAY)
    a_before, d_before = rt.balance(a), rt.balance(d)
    r = ok(rt.call(d, Governance, "execute", [pid]))
    assert event_names(r) == ["Passed", "Unlocked", "TreasurySpent", "Executed"]
    assert rt.balance(d) == d_before + 2 * ETH
    assert rt.balance(a) == a_before + ETH  # the deposit, returned as the proposal settles
    assert rt.view(Governance, "state", pid) == EXECUTED
    assert rt.view(Governance, "treasuryBalance") == 8 * ETH
    assert err(rt.call(d, Governance, "execute", [pid])) == ("NotPassed", (pid, EXECUTED))

    b_before = rt.balance(b)
    r = ok(rt.call(b, Governance, "unlock", [pid]))
    assert r.values == (3 * ETH,) and event_names(r) == ["Unlocked"]
    assert rt.balance(b) == b_before + 3 * ETH
    assert_noop(rt, b, "unlock", [pid], ("AlreadyUnlocked", (pid, checksum(b).lower())))
    assert ok(rt.call(c, Governance, "unlock", [pid])).values == (ETH,)
    assert_noop(rt, a, "unlock", [pid], ("NothingLocked", (pid, checksum(a).lower())))
    assert rt.view(Governance, "lockedBalance") == 0
    assert rt.balance(GOV) == 8 * ETH


def test_a_proposal_pays_an_account_with_value(rt) -> None:
    d = rt.accounts[3]
    before = rt.balance(d)
    pid, r = pass_and_execute(rt, b"", target=d, value=ETH)
    ok(r)
    assert rt.balance(d) == before + ETH
    assert rt.view(Governance, "treasuryBalance") == 9 * ETH
    # More than the treasury holds: refused before the call.
    pid = propose(rt, rt.accounts[0], d, b"", 20 * ETH)
    vote(rt, rt.accounts[1], pid, FOR, ETH)
    rt.advance(4 * DAY)
    assert_noop(rt, d, "execute", [pid], ("TreasuryTooLow", (9 * ETH, 20 * ETH)))


def test_a_failing_call_reverts_with_its_return_data_and_can_be_retried(rt) -> None:
    d = rt.accounts[3]
    pid, r = pass_and_execute(rt, gov_data("treasurySpend", checksum(d), 50 * ETH))
    assert inner_err(r) == ("TreasuryTooLow", (10 * ETH, 50 * ETH))
    assert rt.view(Governance, "state", pid) == PASSED  # not marked executed: the whole call reverted
    ok(rt.call(rt.accounts[3], Governance, "fundTreasury", [], value=40 * ETH))
    before = rt.balance(d)
    ok(rt.call(d, Governance, "execute", [pid]))
    assert rt.balance(d) == before + 50 * ETH


def test_set_parameter_of_governance_itself(rt) -> None:
    key = encode_parameter_key("quorum")
    pid, r = pass_and_execute(rt, gov_data("setParameter", checksum(GOV), key, 5 * ETH))
    assert "ParameterSet" in event_names(ok(r))
    assert get_parameter(rt.state, Governance, "quorum") == 5 * ETH
    assert rt.view(Governance, "getParameter", checksum(GOV), key) == 5 * ETH
    # The quorum a proposal needs is the one when it was proposed.
    pid = propose(rt, rt.accounts[0], GOV, b"")
    assert rt.view(Governance, "proposal", pid)[10] == 5 * ETH
    vote(rt, rt.accounts[1], pid, FOR, 4 * ETH)
    rt.advance(3 * DAY)
    assert rt.view(Governance, "state", pid) == REJECTED


def test_set_parameter_of_escrow() -> None:
    from runtime.pallets.escrow import Escrow

    if "confirmWindow" not in Escrow.parameters:
        pytest.skip("escrow declares no confirmWindow yet")
    rt = Runtime(accounts=4, balance=1000 * ETH)
    key = encode_parameter_key("confirmWindow")
    _, r = pass_and_execute(rt, gov_data("setParameter", checksum(Escrow.address), key, 3600))
    ok(r)
    assert get_parameter(rt.state, Escrow, "confirmWindow") == 3600
    decl = Escrow.parameters["confirmWindow"]
    _, r = pass_and_execute(rt, gov_data("setParameter", checksum(Escrow.address), key, decl.maximum + 1))
    assert inner_err(r) == ("ParameterOutOfRange", (key, decl.maximum + 1))
    assert get_parameter(rt.state, Escrow, "confirmWindow") == 3600


class Knobs(Pallet):
    """A test pallet with a parameter, registered for the tests below."""
    name = "knobs"
    address = bytes.fromhex("00000000000000000000000000000000000008f3")
    parameters = {"speed": Parameter(10, minimum=1, maximum=100)}

    @call("speed()", returns="uint256 value", weight=2_000, view=True)
    def speed(self, ctx: CallContext) -> int:
        """The speed parameter."""
        return ctx.param("speed")


@pytest.fixture
def knobs_rt(monkeypatch):
    import runtime.pallets

    monkeypatch.setattr(runtime.pallets, "PALLETS", (*runtime.pallets.PALLETS, Knobs))
    evm.register_natives({**native_handlers(), Knobs.address: Knobs.handle})
    try:
        yield Runtime(accounts=4, balance=1000 * ETH, pallets=runtime.pallets.PALLETS)
    finally:
        monkeypatch.undo()
        evm.register_natives(native_handlers())


def test_set_parameter_of_another_pallet_and_its_errors(knobs_rt) -> None:
    rt = knobs_rt
    key = encode_parameter_key("speed")
    knobs = checksum(Knobs.address)
    assert rt.view(Knobs, "speed") == 10
    ok(pass_and_execute(rt, gov_data("setParameter", knobs, key, 42))[1])
    assert rt.view(Knobs, "speed") == 42
    _, r = pass_and_execute(rt, gov_data("setParameter", knobs, key, 101))
    assert inner_err(r) == ("ParameterOutOfRange", (key, 101))
    _, r = pass_and_execute(rt, gov_data("setParameter", knobs, key, 0))
    assert inner_err(r) == ("ParameterOutOfRange", (key, 0))
    bad_key = encode_parameter_key("sped")
    _, r = pass_and_execute(rt, gov_data("setParameter", knobs, bad_key, 5))
    assert inner_err(r) == ("UnknownParameter", (knobs.lower(), bad_key))
    nowhere = "0x" + "00" * 19 + "99"
    _, r = pass_and_execute(rt, gov_data("setParameter", nowhere, key, 5))
    assert inner_err(r) == ("UnknownPallet", (nowhere,))
    assert rt.view(Knobs, "speed") == 42


def test_pause_and_unpause_vesting(rt) -> None:
    a, b = rt.accounts[0], rt.accounts[1]
    vesting = checksum(VESTING_ADDRESS)
    ok(rt.call(a, Vesting, "createSchedule", [checksum(b), rt.timestamp, 0, 100, True], value=1000))
    _, r = pass_and_execute(rt, gov_data("pause", vesting))
    assert "PalletPaused" in event_names(ok(r))
    assert get_paused(rt.state, Vesting)
    before = rt.balances()
    r = rt.call(a, Vesting, "createSchedule", [checksum(b), rt.timestamp, 0, 100, True], value=1000)
    assert decode_error(VESTING_ABI, r.outcome.output) == ("Paused", (vesting.lower(),))
    assert rt.balances() == before
    assert rt.view(Vesting, "schedulesOf", checksum(b)) == (1,)  # views still answer
    assert rt.view(Vesting, "releasable", 1) == 1000
    _, r = pass_and_execute(rt, gov_data("pause", vesting))
    assert inner_err(r) == ("AlreadyPaused", (vesting.lower(),))
    _, r = pass_and_execute(rt, gov_data("unpause", vesting))
    assert "PalletUnpaused" in event_names(ok(r))
    ok(rt.call(a, Vesting, "createSchedule", [checksum(b), rt.timestamp, 0, 100, True], value=1000))
    _, r = pass_and_execute(rt, gov_data("unpause", vesting))
    assert inner_err(r) == ("NotPaused", (vesting.lower(),))
    _, r = pass_and_execute(rt, gov_data("pause", checksum(GOV)))
    assert inner_err(r) == ("CannotPauseGovernance", ())
    assert not get_paused(rt.state, Governance)


# ---- rejected, canceled ----

def test_rejected_for_quorum_forfeits_the_deposit(rt) -> None:
    a, b, c, _ = rt.accounts
    pid = propose(rt, a, GOV, b"")
    vote(rt, b, pid, FOR, ETH // 2)
    vote(rt, c, pid, ABSTAIN, ETH // 4)
    rt.advance(3 * DAY)
    assert rt.view(Governance, "state", pid) == REJECTED
    assert err(rt.call(c, Governance, "execute", [pid])) == ("NotPassed", (pid, REJECTED))
    a_before, b_before = rt.balance(a), rt.balance(b)
    r = ok(rt.call(b, Governance, "unlock", [pid]))
    assert event_names(r) == ["Rejected", "DepositForfeited", "Unlocked"]
    assert rt.balance(b) == b_before + ETH // 2 and rt.balance(a) == a_before
    assert rt.view(Governance, "treasuryBalance") == 11 * ETH
    r = ok(rt.call(c, Governance, "unlock", [pid]))
    assert event_names(r) == ["Unlocked"]  # Rejected is emitted once
    assert_noop(rt, a, "unlock", [pid], ("NothingLocked", (pid, checksum(a).lower())))
    assert rt.view(Governance, "lockedBalance") == 0


def test_rejected_when_against_is_not_less_than_for(rt) -> None:
    a, b, c, d = rt.accounts
    pid = propose(rt, a, GOV, b"")
    vote(rt, b, pid, FOR, 2 * ETH)
    vote(rt, c, pid, AGAINST, 2 * ETH)
    rt.advance(3 * DAY)
    assert rt.view(Governance, "state", pid) == REJECTED
    # Anyone may settle: the deposit leaves the held funds for the treasury even with nothing to unlock.
    r = ok(rt.call(d, Governance, "unlock", [pid]))
    assert r.values == (0,) and event_names(r) == ["Rejected", "DepositForfeited"]
    assert rt.view(Governance, "treasuryBalance") == 11 * ETH


def test_a_passed_proposal_never_executed_returns_the_deposit(rt) -> None:
    a, b, _, d = rt.accounts
    pid = propose(rt, a, d, b"")  # a call with no data to an account: a signal
    vote(rt, b, pid, FOR, ETH)
    rt.advance(3 * DAY)
    a_before = rt.balance(a)
    r = ok(rt.call(b, Governance, "unlock", [pid]))
    assert event_names(r) == ["Passed", "Unlocked", "Unlocked"]
    assert rt.balance(a) == a_before + ETH
    rt.advance(DAY)
    r = ok(rt.call(b, Governance, "execute", [pid]))  # executing later does not emit Passed again
    assert event_names(r) == ["Executed"]


def test_cancel(rt) -> None:
    a, b, *_ = rt.accounts
    pid = propose(rt, a, GOV, b"", deposit=2 * ETH)
    assert_noop(rt, b, "cancel", [pid], ("NotProposer", (pid,)))
    before = rt.balance(a)
    r = ok(rt.call(a, Governance, "cancel", [pid]))
    assert event_names(r) == ["Canceled"]
    assert rt.balance(a) == before + 2 * ETH
    assert rt.view(Governance, "state", pid) == CANCELED
    assert rt.view(Governance, "lockedBalance") == 0
    assert_noop(rt, a, "cancel", [pid], ("WrongState", (pid, CANCELED)))
    assert_noop(rt, b, "vote", [pid, FOR], ("NotActive", (pid, CANCELED)), value=ETH)
    assert_noop(rt, a, "unlock", [pid], ("NothingLocked", (pid, checksum(a).lower())))
    assert_noop(rt, a, "execute", [pid], ("NotPassed", (pid, CANCELED)))

    pid = propose(rt, a, GOV, b"")
    vote(rt, b, pid, AGAINST, 1)
    assert_noop(rt, a, "cancel", [pid], ("HasVotes", (pid,)))
    pid = propose(rt, a, GOV, b"")
    rt.advance(3 * DAY)
    assert_noop(rt, a, "cancel", [pid], ("WrongState", (pid, REJECTED)))


def test_voting_delay_keeps_a_proposal_pending(rt) -> None:
    a, b, *_ = rt.accounts
    apply_parameter(rt.state, Governance, "votingDelay", 100)
    rt._reopen()  # noqa: SLF001
    pid = propose(rt, a, GOV, b"")
    assert rt.view(Governance, "state", pid) == PENDING
    assert_noop(rt, b, "vote", [pid, FOR], ("NotActive", (pid, PENDING)), value=ETH)
    assert_noop(rt, b, "unlock", [pid], ("VoteNotEnded", (pid, rt.timestamp + 100 + 3 * DAY)))
    rt.advance(100)
    assert rt.view(Governance, "state", pid) == ACTIVE
    vote(rt, b, pid, FOR, ETH)


# ---- every bad call is named and changes nothing ----

def test_bad_calls_are_named_and_change_nothing(rt) -> None:
    a, b, c, d = rt.accounts
    pid = propose(rt, a, GOV, b"")
    vote(rt, b, pid, FOR, ETH)
    gov = checksum(GOV)
    cases = [
        (a, "propose", [gov, b"", 0, "x"], ETH - 1, ("DepositTooLow", (ETH, ETH - 1))),
        (a, "propose", [gov, b"", 0, "x" * 2049], ETH, ("DescriptionTooLong", (2049, 2048))),
        (a, "propose", [gov, b"\x00" * 8193, 0, "x"], ETH, ("DataTooLong", (8193, 8192))),
        (c, "vote", [99, FOR], ETH, ("UnknownProposal", (99,))),
        (c, "vote", [pid, 3], ETH, ("BadSupport", (3,))),
        (c, "vote", [pid, FOR], 0, ("ZeroWeight", ())),
        (b, "vote", [pid, AGAINST], ETH, ("AlreadyVoted", (pid, checksum(b).lower()))),
        (b, "unlock", [pid], 0, ("VoteNotEnded", (pid, rt.view(Governance, "proposal", pid)[8]))),
        (b, "unlock", [99], 0, ("UnknownProposal", (99,))),
        (c, "execute", [pid], 0, ("NotPassed", (pid, ACTIVE))),
        (c, "execute", [0], 0, ("UnknownProposal", (0,))),
        (c, "cancel", [pid], 0, ("NotProposer", (pid,))),
        (a, "cancel", [pid], 0, ("HasVotes", (pid,))),
        (d, "treasurySpend", [checksum(d), ETH], 0, ("NotGovernance", ())),
        (d, "setParameter", [gov, encode_parameter_key("quorum"), 0], 0, ("NotGovernance", ())),
        (d, "pause", [checksum(VESTING_ADDRESS)], 0, ("NotGovernance", ())),
        (d, "unpause", [checksum(VESTING_ADDRESS)], 0, ("NotGovernance", ())),
        (d, "fundTreasury", [], 0, ("ZeroAmount", ())),
        (d, "execute", [pid], 5, ("NotPayable", (5,))),
    ]
    for sender, name, args, value, expected in cases:
        assert_noop(rt, sender, name, args, expected, value=value)
    r = rt.call(a, Governance, "proposal", [7])
    assert err(r) == ("UnknownProposal", (7,))
    r = rt.call(a, Governance, "getParameter", [gov, encode_parameter_key("nope")])
    assert err(r) == ("UnknownParameter", (gov.lower(), encode_parameter_key("nope")))


def test_governance_only_calls_refuse_a_contract_too(rt) -> None:
    """A contract forwarding to treasurySpend is not governance: msg.sender is the contract."""
    d = rt.accounts[3]
    # CALLDATACOPY the whole calldata and CALL governance with it; revert with its return data on failure.
    code = bytes.fromhex(
        "366000600037"                       # calldatacopy(0, 0, calldatasize)
        "60006000366000"                     # retSize 0, retOffset 0, argsSize, argsOffset 0
        "6000" "73" + GOV.hex() + "5a" "f1"  # value 0, address, gas, CALL
        "3d600060003e" "3d6000fd")           # returndatacopy(0, 0, rds); revert(0, rds)
    forwarder = b"\xfe" * 20
    rt.state.set_code(forwarder, code)
    rt._reopen()  # noqa: SLF001
    out = rt.raw_call(d, forwarder, gov_data("treasurySpend", checksum(d), ETH))
    assert not out.success and decode_error(ABI, out.output) == ("NotGovernance", ())


# ---- genesis and the fee share ----

def _genesis(pallets: dict):
    from node.dev import dev_spec_json
    from runtime.chainspec import parse_chain_spec
    from runtime.executive import build_genesis
    from runtime.state.store import MemoryStore

    spec = parse_chain_spec({**dev_spec_json(), "pallets": pallets})
    store = MemoryStore()
    header, writes = build_genesis(spec, store)
    store.write(writes)
    return store, header


def _balance(store, header, address: bytes) -> int:
    from eth.db.account import AccountDB
    from eth.db.atomic import AtomicDB

    from runtime.state.store import StateDB

    return AccountDB(AtomicDB(StateDB(store)), header.state_root).get_balance(address)


def _transfer(nonce: int):
    from node.dev import dev_keys
    from runtime.primitives.transaction import decode_transaction

    key = Account.from_key(dev_keys(1)[0][1])
    fields = {"chainId": 31337, "nonce": nonce, "gas": 21000, "to": "0x" + "44" * 20, "value": 7, "type": 2,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    return decode_transaction(bytes(key.sign_transaction(fields).raw_transaction))


@pytest.mark.parametrize("pallets, bps", [({}, 1000), ({"governance": {"feeShareBps": 2500}}, 2500),
                                          ({"governance": {"feeShareBps": 0}}, 0)])
def test_fee_share_goes_to_the_treasury(pallets, bps) -> None:
    from runtime.executive import build_block, execute_block

    store, genesis = _genesis(pallets)
    txs = [_transfer(0), _transfer(1)]
    built = build_block(store, genesis, txs, timestamp=5, coinbase=b"\x01" * 20, chain_id=31337,
                        prev_hashes=[genesis.hash])
    assert not built.rejected and built.header.base_fee_per_gas > 0
    share = sum(compute_fee_share(o.gas_used, built.header.base_fee_per_gas, bps) for o in built.outcomes)
    assert share == 2 * 21_000 * built.header.base_fee_per_gas * bps // 10_000
    store.write(built.state_writes)
    assert _balance(store, built.header, GOV) == share
    # Deterministic: re-executing the block reaches the same state root.
    again = execute_block(store, genesis, built.header, built.transactions, chain_id=31337,
                          prev_hashes=[genesis.hash])
    assert again.header.state_root == built.header.state_root


def test_genesis_treasury_and_parameters() -> None:
    from runtime.chainspec import parse_chain_spec
    from runtime.errors import InvalidChainSpec
    from node.dev import dev_spec_json

    store, header = _genesis({"governance": {"treasury": "5000", "votingPeriod": 60, "quorum": 10}})
    assert _balance(store, header, GOV) == 5000
    for section, field in [({"treasury": -1}, "pallets.governance.treasury"),
                           ({"votingPeriod": 0}, "pallets.governance.votingPeriod"),
                           ({"feeShareBps": 10_001}, "pallets.governance.feeShareBps"),
                           ({"bogus": 1}, "pallets.governance.bogus")]:
        with pytest.raises(InvalidChainSpec) as info:
            parse_chain_spec({**dev_spec_json(), "pallets": {"governance": section}})
        assert info.value.field == field


# ---- random sequences against a model ----

MACHINE_PARAMS = {"minDeposit": 100, "votingDelay": 0, "votingPeriod": 100, "enactmentDelay": 50, "quorum": 600}


class GovernanceMachine(RuleBasedStateMachine):
    """Proposals, votes, executions, unlocks and cancels against a model of every lock."""

    def __init__(self) -> None:
        super().__init__()
        self.rt = Runtime(accounts=4, balance=10**9)
        for name, value in MACHINE_PARAMS.items():
            apply_parameter(self.rt.state, Governance, name, value)
        self.rt._reopen()  # noqa: SLF001
        self.issuance = sum(self.rt.balances().values())
        self.treasury = 0
        self.proposals: dict[int, dict] = {}
        self.returned: dict[tuple, int] = {}  # (id, account or "deposit") -> times returned

    # -- the model --
    def _state(self, p: dict) -> int:
        now = self.rt.timestamp
        if p["canceled"]:
            return CANCELED
        if p["executed"]:
            return EXECUTED
        if now < p["starts"]:
            return PENDING
        if now < p["ends"]:
            return ACTIVE
        t = p["tally"]
        return PASSED if sum(t) >= MACHINE_PARAMS["quorum"] and t[FOR] > t[AGAINST] else REJECTED

    def _settle(self, pid: int, p: dict, state: int) -> None:
        if p["settled"]:
            return
        p["settled"] = True
        self.returned[(pid, "deposit")] = self.returned.get((pid, "deposit"), 0) + 1
        if state == REJECTED:
            self.treasury += p["deposit"]

    def _fails(self, r, expected: str, before: dict) -> None:
        assert not r.success
        assert decode_error(ABI, r.outcome.output)[0] == expected
        assert self.rt.balances() == before

    def _pick(self, pick: int, states: tuple[int, ...] = ()) -> tuple[int, dict]:
        """A proposal; half the time one in ``states`` (when there is one), so rules get past the checks."""
        ids = sorted(self.proposals)
        wanted = [i for i in ids if self._state(self.proposals[i]) in states]
        if wanted and pick % 2:
            ids = wanted
        pid = ids[(pick // 2) % len(ids)]
        return pid, self.proposals[pid]

    # -- rules --
    @rule(who=st.integers(0, 3), amount=st.integers(0, 500))
    def fund(self, who, amount) -> None:
        before = self.rt.balances()
        r = self.rt.call(self.rt.accounts[who], Governance, "fundTreasury", [], value=amount)
        if amount == 0:
            self._fails(r, "ZeroAmount", before)
            return
        assert r.success
        self.treasury += amount

    @rule(who=st.integers(0, 3), deposit=st.integers(0, 300), to=st.integers(0, 3), amount=st.integers(0, 600),
          direct=st.booleans())
    def propose(self, who, deposit, to, amount, direct) -> None:
        sender, recipient = self.rt.accounts[who], self.rt.accounts[to]
        if direct:  # governance sends value to the account itself
            args = [checksum(recipient), b"", amount, "direct"]
        else:       # governance calls its own treasurySpend
            args = [checksum(GOV), gov_data("treasurySpend", checksum(recipient), amount), 0, "spend"]
        before = self.rt.balances()
        r = self.rt.call(sender, Governance, "propose", args, value=deposit)
        if deposit < MACHINE_PARAMS["minDeposit"]:
            self._fails(r, "DepositTooLow", before)
            return
        assert r.success, decode_error(ABI, r.outcome.output)
        (pid,) = r.values
        assert pid == len(self.proposals) + 1
        now = self.rt.timestamp
        starts = now + MACHINE_PARAMS["votingDelay"]
        ends = starts + MACHINE_PARAMS["votingPeriod"]
        self.proposals[pid] = dict(proposer=sender, to=recipient, amount=amount, direct=direct, deposit=deposit,
                                   starts=starts, ends=ends, executable=ends + MACHINE_PARAMS["enactmentDelay"],
                                   tally=[0, 0, 0], votes={}, executed=False, canceled=False, settled=False)

    @precondition(lambda self: self.proposals)
    @rule(pick=st.integers(0, 10**6),
          ballots=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 800)), min_size=1, max_size=4))
    def vote(self, pick, ballots) -> None:
        """Several accounts vote on one proposal, one after another."""
        pid, p = self._pick(pick, (ACTIVE,))
        for who, support, weight in ballots:
            voter = self.rt.accounts[who]
            before = self.rt.balances()
            r = self.rt.call(voter, Governance, "vote", [pid, support], value=weight)
            state = self._state(p)
            expected = ("NotActive" if state != ACTIVE else "BadSupport" if support > 2 else
                        "ZeroWeight" if weight == 0 else "AlreadyVoted" if voter in p["votes"] else None)
            if expected:
                self._fails(r, expected, before)
                continue
            assert r.success, decode_error(ABI, r.outcome.output)
            p["votes"][voter] = {"weight": weight, "unlocked": False}
            p["tally"][support] += weight
            assert self.rt.balance(voter) == before[voter] - weight

    @precondition(lambda self: self.proposals)
    @rule(pick=st.integers(0, 10**6), who=st.integers(0, 3), wait=st.sampled_from([0, 0, 60, 200]))
    def execute(self, pick, who, wait) -> None:
        if wait:
            self.rt.advance(wait)
        pid, p = self._pick(pick, (PASSED,))
        before = self.rt.balances()
        r = self.rt.call(self.rt.accounts[who], Governance, "execute", [pid])
        state = self._state(p)
        value = p["amount"] if p["direct"] else 0
        if state != PASSED:
            self._fails(r, "NotPassed", before)
            return
        if self.rt.timestamp < p["executable"]:
            self._fails(r, "EnactmentDelay", before)
            return
        if value > self.treasury:
            self._fails(r, "TreasuryTooLow", before)
            return
        if not p["direct"] and (p["amount"] == 0 or p["amount"] > self.treasury):
            self._fails(r, "ExecutionFailed", before)
            return
        assert r.success, decode_error(ABI, r.outcome.output)
        p["executed"] = True
        deposit_back = 0 if p["settled"] else p["deposit"]
        self._settle(pid, p, PASSED)
        self.treasury -= p["amount"]
        after = self.rt.balances()
        expected_gain = {p["to"]: p["amount"]}
        expected_gain[p["proposer"]] = expected_gain.get(p["proposer"], 0) + deposit_back
        for account, gain in expected_gain.items():
            assert after[account] == before[account] + gain

    @precondition(lambda self: self.proposals)
    @rule(pick=st.integers(0, 10**6), who=st.integers(0, 3), wait=st.sampled_from([0, 0, 60, 200]))
    def unlock(self, pick, who, wait) -> None:
        if wait:
            self.rt.advance(wait)
        pid, p = self._pick(pick, (PASSED, REJECTED, EXECUTED))
        caller = self.rt.accounts[who]
        before = self.rt.balances()
        r = self.rt.call(caller, Governance, "unlock", [pid])
        state = self._state(p)
        v = p["votes"].get(caller)
        owed = v["weight"] if v and not v["unlocked"] else 0
        if state in (PENDING, ACTIVE):
            self._fails(r, "VoteNotEnded", before)
            return
        if not owed and p["settled"]:
            self._fails(r, "AlreadyUnlocked" if v else "NothingLocked", before)
            return
        assert r.success, decode_error(ABI, r.outcome.output)
        assert r.values == (owed,)
        gains = {caller: owed}
        if not p["settled"] and state != REJECTED:
            gains[p["proposer"]] = gains.get(p["proposer"], 0) + p["deposit"]
        self._settle(pid, p, state)
        if owed:
            v["unlocked"] = True
            self.returned[(pid, caller)] = self.returned.get((pid, caller), 0) + 1
        after = self.rt.balances()
        for account in self.rt.accounts:
            assert after[account] == before[account] + gains.get(account, 0)

    @precondition(lambda self: self.proposals)
    @rule(pick=st.integers(0, 10**6), who=st.integers(0, 3))
    def cancel(self, pick, who) -> None:
        pid, p = self._pick(pick, (PENDING, ACTIVE))
        caller = self.rt.accounts[who]
        before = self.rt.balances()
        r = self.rt.call(caller, Governance, "cancel", [pid])
        state = self._state(p)
        expected = ("NotProposer" if caller != p["proposer"] else "WrongState" if state not in (PENDING, ACTIVE)
                    else "HasVotes" if sum(p["tally"]) else None)
        if expected:
            self._fails(r, expected, before)
            return
        assert r.success, decode_error(ABI, r.outcome.output)
        p["canceled"] = p["settled"] = True
        self.returned[(pid, "deposit")] = self.returned.get((pid, "deposit"), 0) + 1
        assert self.rt.balance(caller) == before[caller] + p["deposit"]

    @rule(seconds=st.sampled_from([1, 3, 30, 80, 150]))
    def advance(self, seconds) -> None:
        self.rt.advance(seconds)

    # -- invariants --
    @invariant()
    def issuance_is_conserved(self) -> None:
        assert sum(self.rt.balances().values()) == self.issuance

    @invariant()
    def locked_is_the_unreturned_deposits_and_votes(self) -> None:
        held = sum((0 if p["settled"] else p["deposit"]) +
                   sum(v["weight"] for v in p["votes"].values() if not v["unlocked"])
                   for p in self.proposals.values())
        assert self.rt.view(Governance, "lockedBalance") == held
        assert self.rt.view(Governance, "treasuryBalance") == self.treasury
        assert self.rt.balance(GOV) == held + self.treasury

    @invariant()
    def every_lock_returns_at_most_once(self) -> None:
        assert all(n == 1 for n in self.returned.values())

    @invariant()
    def states_agree(self) -> None:
        for pid, p in self.proposals.items():
            assert self.rt.view(Governance, "state", pid) == self._state(p)


GovernanceMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=40, deadline=None,
                                               suppress_health_check=[HealthCheck.too_slow])
TestGovernanceMachine = GovernanceMachine.TestCase
