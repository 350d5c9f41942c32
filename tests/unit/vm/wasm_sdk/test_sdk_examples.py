"""The example contracts run against a Python mock of the host API (no node): ABI
decoding, OpenZeppelin's errors and events, Solidity's storage layout, outgoing calls."""
from __future__ import annotations

import eth_abi
import pytest
from eth_utils import keccak

from tests.unit.vm.wasm_sdk.mock_host import MockHost

ALICE, BOB, CAROL = b"\xa1" * 20, b"\xb0" * 20, b"\xca" * 20
ZERO = b"\0" * 20
SUPPLY = 1_000_000 * 10**18
MAX = 2**256 - 1


def calldata(signature: str, types: list[str] = (), values: list = ()) -> bytes:
    return keccak(text=signature)[:4] + eth_abi.encode(list(types), list(values))


def error(signature: str, types: list[str], values: list) -> bytes:
    return calldata(signature, types, values)


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def topic(address: bytes) -> bytes:
    return b"\0" * 12 + address


@pytest.fixture
def token(built):
    host = MockHost()
    result = host.deploy(built["erc20"], eth_abi.encode(["uint256"], [SUPPLY]), sender=ALICE)
    assert result.status == 0, result.output

    class Token:
        def __init__(self):
            self.host, self.deployed = host, result

        def call(self, sender, signature, types=(), values=(), value=0):
            return host.call(built["erc20"], calldata(signature, types, values), sender=sender, value=value)

        def balance(self, who):
            out = self.call(ALICE, "balanceOf(address)", ["address"], [who]).output
            return int.from_bytes(out, "big")

        def allowance(self, owner, spender):
            out = self.call(ALICE, "allowance(address,address)", ["address", "address"], [owner, spender]).output
            return int.from_bytes(out, "big")

    return Token()


def test_erc20_deploy_mints_to_the_deployer(token):
    (mint,) = token.deployed.logs
    assert mint == ([keccak(text="Transfer(address,address,uint256)"), topic(ZERO), topic(ALICE)], word(SUPPLY))
    assert token.balance(ALICE) == SUPPLY
    assert token.call(BOB, "totalSupply()").output == word(SUPPLY)
    # Solidity's layout: balances at slot 0, totalSupply at slot 2.
    assert token.host.storage[keccak(topic(ALICE) + word(0))] == word(SUPPLY)
    assert token.host.storage[word(2)] == word(SUPPLY)


def test_erc20_metadata(token):
    assert eth_abi.decode(["string"], token.call(BOB, "name()").output) == ("Wasm Token",)
    assert eth_abi.decode(["string"], token.call(BOB, "symbol()").output) == ("WTK",)
    assert token.call(BOB, "decimals()").output == word(18)


def test_erc20_transfer(token):
    result = token.call(ALICE, "transfer(address,uint256)", ["address", "uint256"], [BOB, 1234])
    assert (result.status, result.output) == (0, word(1))
    assert result.logs == [([keccak(text="Transfer(address,address,uint256)"), topic(ALICE), topic(BOB)], word(1234))]
    assert (token.balance(ALICE), token.balance(BOB)) == (SUPPLY - 1234, 1234)
    # To oneself: the balance is unchanged, the event still emitted.
    assert token.call(BOB, "transfer(address,uint256)", ["address", "uint256"], [BOB, 34]).status == 0
    assert token.balance(BOB) == 1234


def test_erc20_failing_transfers_revert_with_oz_errors(token):
    result = token.call(BOB, "transfer(address,uint256)", ["address", "uint256"], [ALICE, 5])
    assert result.status == 1
    assert result.output == error("ERC20InsufficientBalance(address,uint256,uint256)",
                                  ["address", "uint256", "uint256"], [BOB, 0, 5])
    result = token.call(ALICE, "transfer(address,uint256)", ["address", "uint256"], [ZERO, 5])
    assert result.output == error("ERC20InvalidReceiver(address)", ["address"], [ZERO])
    assert token.balance(ALICE) == SUPPLY


def test_erc20_approve_and_transfer_from(token):
    result = token.call(ALICE, "approve(address,uint256)", ["address", "uint256"], [BOB, 100])
    assert (result.status, result.output) == (0, word(1))
    assert result.logs == [([keccak(text="Approval(address,address,uint256)"), topic(ALICE), topic(BOB)], word(100))]
    assert token.allowance(ALICE, BOB) == 100
    # allowances[owner][spender] at keccak(spender ‖ keccak(owner ‖ 1))
    assert token.host.storage[keccak(topic(BOB) + keccak(topic(ALICE) + word(1)))] == word(100)

    transfer_from = "transferFrom(address,address,uint256)"
    types = ["address", "address", "uint256"]
    result = token.call(BOB, transfer_from, types, [ALICE, CAROL, 60])
    assert result.status == 0
    assert [t for t, _ in result.logs] == [[keccak(text="Transfer(address,address,uint256)"), topic(ALICE), topic(CAROL)]]
    assert (token.allowance(ALICE, BOB), token.balance(CAROL)) == (40, 60)

    result = token.call(BOB, transfer_from, types, [ALICE, CAROL, 41])
    assert result.output == error("ERC20InsufficientAllowance(address,uint256,uint256)",
                                  ["address", "uint256", "uint256"], [BOB, 40, 41])
    # An infinite allowance is not spent.
    token.call(ALICE, "approve(address,uint256)", ["address", "uint256"], [BOB, MAX])
    assert token.call(BOB, transfer_from, types, [ALICE, CAROL, 10]).status == 0
    assert token.allowance(ALICE, BOB) == MAX
    result = token.call(ALICE, "approve(address,uint256)", ["address", "uint256"], [ZERO, 1])
    assert result.output == error("ERC20InvalidSpender(address)", ["address"], [ZERO])


def test_erc20_rejects_bad_calls_like_solidity(token, built):
    host = token.host
    short = calldata("transfer(address,uint256)", ["address"], [BOB])
    dirty = calldata("balanceOf(address)") + b"\x01" + b"\0" * 11 + BOB  # an address with high bits
    for data in (short, dirty, b"\x12\x34\x56\x78", b"", b"\xa9"):
        result = host.call(built["erc20"], data, sender=ALICE)
        assert (result.status, result.output) == (1, b""), data.hex()
    assert token.call(ALICE, "totalSupply()", value=1).status == 1  # not payable


def test_erc20_mint_overflow_panics(built):
    host = MockHost()
    host.deploy(built["erc20"], eth_abi.encode(["uint256"], [MAX]), sender=ALICE)
    host2 = MockHost(storage=dict(host.storage))
    result = host2.deploy(built["erc20"], eth_abi.encode(["uint256"], [1]), sender=BOB)
    assert (result.status, result.output) == (1, calldata("Panic(uint256)", ["uint256"], [0x11]))


def test_counter(built):
    host = MockHost()
    for expected in (1, 2):
        result = host.call(built["counter"], calldata("increment()"), sender=ALICE)
        assert result.status == 0
        assert result.logs == [([keccak(text="Incremented(address,uint256)"), topic(ALICE)], word(expected))]
    assert host.call(built["counter"], calldata("get()"), sender=BOB).output == word(2)
    assert host.storage == {word(0): word(2)}


def test_vesting_caller_forwards_value_and_returns_the_id(built):
    host = MockHost(on_call=lambda to, value, data: (True, word(7)))
    data = calldata("vestFor(address,uint64,uint64)", ["address", "uint64", "uint64"], [BOB, 60, 3600])
    result = host.call(built["vesting_caller"], data, sender=ALICE, value=10**18)
    assert (result.status, result.output) == (0, word(7))
    ((to, value, payload),) = host.calls
    assert to == bytes.fromhex("0000000000000000000000000000000000000801")
    assert value == 10**18
    assert payload == calldata("createSchedule(address,uint64,uint64,uint64,bool)",
                               ["address", "uint64", "uint64", "uint64", "bool"], [BOB, host.timestamp, 60, 3600, True])


def test_vesting_caller_bubbles_the_pallet_revert(built):
    reason = error("ZeroAmount()", [], [])
    host = MockHost(on_call=lambda to, value, data: (False, reason))
    data = calldata("vestFor(address,uint64,uint64)", ["address", "uint64", "uint64"], [BOB, 0, 10])
    assert host.call(built["vesting_caller"], data, sender=ALICE).output == reason
