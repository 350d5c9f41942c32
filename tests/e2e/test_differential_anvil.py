"""Differential test against Anvil: one list of pre-signed transactions, replayed on a fresh
Anvil (`--hardfork prague`, chain id 31337, the test-mnemonic accounts) and on a fresh
`chameleon dev`, must give the same results on both.

The script (`build_script`, contracts in tests/contracts/Differential.sol) covers deploys,
OpenZeppelin ERC-20 and ERC-721 flows, reverts with custom errors, Error(string), panics and no
data, CREATE2 (and a collision, and reuse of a deleted address), SELFDESTRUCT under Cancun rules
(EIP-6780: only in the creating transaction does it delete; to itself; to a new account), every
precompile from ecrecover to blake2f and BLS12-381 G1ADD (good and bad inputs, from a contract
and as the transaction's target), a storage-heavy loop and refunds, transient storage and MCOPY,
LOG0-4, EXTCODEHASH of all kinds of accounts, memory expansion, EIP-3860 and EIP-170 and EIP-3541
limits, out-of-gas at the top level, in a sub-call (63/64) and in the code deposit, the EIP-7623
calldata floor, the three transaction types, and two transactions both must refuse. Gas limits
and fees are fixed, so the signed bytes (and hashes) are the same on both.

Compared per transaction: the hash, status, gasUsed, cumulativeGasUsed, effectiveGasPrice,
contractAddress, from, to, logs (address, topics, data, logIndex), logsBloom, the block's number,
base fee, gas used, gas limit and coinbase; the return or revert data of the same call run with
eth_call at the block before (so no debug_ method is needed on our side); and the storage root
of every account it touched. Afterwards, for every account any transaction touched: balance,
nonce, code, code hash, storage root and every slot ever changed (value, eth_getStorageAt, and
the proof nodes where both tries are the same); our eth_getProof answers are also checked
against our stateRoot with py-trie. Which accounts and slots a transaction touched is read from
Anvil's prestateTracer (the reference), added to the accounts the script names itself.

Every difference is one line of the failure message. The script also checks that each case does
on Anvil what it is meant to (succeed, fail, be refused), so it keeps testing what it says.

Two Anvil quirks, not differences, are worked around:
- Anvil seals block 1 with its configured base fee instead of deriving it from the genesis block
  as EIP-1559 (and geth, and we) do; it is started with `--base-fee` set to our block 1's (1 gwei
  * 7/8), and from block 2 on both derive each base fee from the parent.
- Anvil's eth_getProof keeps a slot that was set back to zero in its storage trie as a leaf
  holding 0, so its storageHash stops being Ethereum's once a contract clears a slot. Storage
  roots are therefore checked against the root computed here from the slot values Anvil reports
  (`check_storage_root`), not against Anvil's storageHash.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from py_ecc import bn128
from py_ecc.bls12_381 import G1 as BLS_G1
from py_ecc.bls12_381 import G2 as BLS_G2
from py_ecc.bls12_381 import neg as bls_neg
from trie import HexaryTrie

from runtime.primitives.receipt import compute_contract_address
from tests.e2e.nodes import DEV_KEYS, HOST, REPO_ROOT, DevNode, RpcFailure

pytestmark = pytest.mark.e2e

ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CHAIN_ID = 31337
GWEI = 10**9
ETHER = 10**18
MAX_FEE = 2 * GWEI
TIP = GWEI
ANVIL_BASE_FEE = GWEI * 7 // 8  # our block 1's base fee: genesis has 1 gwei and uses no gas
DEPLOY_GAS = 3_000_000
CALL_GAS = 500_000
COINBASE = "0x" + "00" * 20
# System contracts Anvil writes to at every block (EIP-2935 block hashes, EIP-4788 beacon roots):
# their storage holds block hashes and timestamps, which differ between two chains by design.
SYSTEM_CONTRACTS = {"0x0000f90827f1c53a10cb7a02335b175320002935", "0x000f3df6d732807ef1319fb7b8bb8522d0beac02"}
PRECOMPILES = [f"0x{i:040x}" for i in range(1, 0x12)]

ACCOUNTS = [Account.from_key(key) for key in DEV_KEYS[:4]]
A0, A1, A2, A3 = (a.address for a in ACCOUNTS)
FRESH = [to_checksum_address("0x" + f"{0xd1ff0000 + i:040x}") for i in range(4)]


class AnvilNode(DevNode):
    """A fresh Anvil on a free port, driven with the same helpers as our node."""

    def argv(self, port: int) -> list[str]:
        return [str(ANVIL), "--host", HOST, "--port", str(port), "--chain-id", str(CHAIN_ID), "--hardfork", "prague",
                "--base-fee", str(ANVIL_BASE_FEE), "--disable-default-create2-deployer", "--silent"]


# --- the script ------------------------------------------------------------------------------


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def calldata(signature: str, *args: Any) -> bytes:
    types = signature[signature.index("(") + 1 : -1]
    return selector(signature) + (abi_encode(types.split(","), list(args)) if types else b"")


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


@dataclass
class Step:
    index: int
    name: str
    sender: str
    to: str | None
    data: bytes
    value: int
    gas: int
    expect_ok: bool
    raw: str
    hash: str
    created: str | None = None  # the CREATE address of a creation transaction
    returns_address: bool = False  # its call returns an address to add to the touched accounts
    refused: bool = False  # both nodes must refuse it
    returns_flag: bool | None = None  # the first word its call returns must be this bool (on Anvil)


@dataclass
class Script:
    steps: list[Step] = field(default_factory=list)
    nonces: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, name: str, account: int, *, to: str | None = None, data: bytes = b"", value: int = 0,
            gas: int = CALL_GAS, ok: bool = True, tx_type: int = 2, access_list: list | None = None,
            returns_address: bool = False, refused: bool = False) -> Step:
        """``refused``: both nodes must refuse it at eth_sendRawTransaction (its nonce stays free)."""
        signer = ACCOUNTS[account]
        nonce = self.nonces[signer.address]
        if not refused:
            self.nonces[signer.address] += 1
        tx: dict[str, Any] = {"chainId": CHAIN_ID, "nonce": nonce, "gas": gas, "value": value, "data": data}
        if tx_type == 2 and access_list:
            tx["accessList"] = access_list
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if tx_type == 2:
            tx.update(type=2, maxFeePerGas=MAX_FEE, maxPriorityFeePerGas=TIP)
        else:
            tx["gasPrice"] = MAX_FEE
            if tx_type == 1:
                tx.update(type=1, accessList=access_list or [])
        signed = signer.sign_transaction(tx)
        created = None
        if to is None:
            created = to_checksum_address(compute_contract_address(bytes.fromhex(signer.address[2:]), nonce))
        step = Step(len(self.steps), name, signer.address, to, data, value, gas, ok,
                    "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex(), created, returns_address,
                    refused)
        self.steps.append(step)
        return step

    def deploy(self, name: str, account: int, init_code: bytes, *, value: int = 0, gas: int = DEPLOY_GAS,
               ok: bool = True) -> str:
        return self.add(name, account, data=init_code, value=value, gas=gas, ok=ok).created


def create2_address(factory: str, salt: bytes, init_code: bytes) -> str:
    digest = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + keccak(init_code))
    return to_checksum_address(digest[12:])


def precompile_cases() -> list[tuple[str, int, bytes, int, bool]]:
    """(name, precompile address, input, gas for the call, whether the precompile succeeds)."""
    message_hash = keccak(b"differential")
    signed = Account.unsafe_sign_hash(message_hash, DEV_KEYS[0])
    ecrecover_input = message_hash + word(signed.v) + word(signed.r) + word(signed.s)
    p = 2**255 - 19
    modexp = word(1) + word(32) + word(32) + bytes([3]) + word(p - 1) + word(p)
    big_modexp = word(64) + word(64) + word(64) + b"\x07" * 64 + b"\xff" * 64 + b"\xfd" * 63 + b"\x01"
    g1 = word(1) + word(2)
    neg_g1 = word(1) + word(bn128.field_modulus - 2)
    (x_re, x_im), (y_re, y_im) = ((c.coeffs[0], c.coeffs[1]) for c in bn128.G2)
    g2 = word(x_im.n) + word(x_re.n) + word(y_im.n) + word(y_re.n)
    iv = [0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
          0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179]
    iv[0] ^= 0x01010040  # parameter block: 64-byte digest, no key, fanout 1, depth 1
    state = b"".join(h.to_bytes(8, "little") for h in iv)
    blake_abc = (12).to_bytes(4, "big") + state + b"abc".ljust(128, b"\0") + (3).to_bytes(8, "little") + bytes(8) + b"\x01"
    bls_g1 = b"".join(c.n.to_bytes(64, "big") for c in BLS_G1)
    bls_neg_g1 = b"".join(c.n.to_bytes(64, "big") for c in bls_neg(BLS_G1))
    bls_g2 = b"".join(part.n.to_bytes(64, "big") for c in BLS_G2 for part in c.coeffs)  # c0 then c1 (EIP-2537)
    return [
        ("ecrecover", 0x01, ecrecover_input, 100_000, True),
        ("ecrecover, bad v (empty output)", 0x01, message_hash + word(29) + word(signed.r) + word(signed.s), 100_000, True),
        ("sha256", 0x02, b"abc", 100_000, True),
        ("ripemd160", 0x03, b"abc", 100_000, True),
        ("identity", 0x04, bytes(range(100)), 100_000, True),
        ("modexp, Fermat", 0x05, modexp, 100_000, True),
        ("modexp, 64-byte operands (EIP-2565 price)", 0x05, big_modexp, 200_000, True),
        ("modexp, zero-length modulus", 0x05, word(1) + word(1) + word(0) + b"\x02\x03", 100_000, True),
        ("modexp, out of gas", 0x05, big_modexp, 300, False),
        ("bn256 add", 0x06, g1 + g1, 100_000, True),
        ("bn256 add, point not on curve", 0x06, word(1) + word(3) + g1, 100_000, False),
        ("bn256 mul", 0x07, g1 + word(2), 100_000, True),
        ("bn256 pairing, empty input", 0x08, b"", 200_000, True),
        ("bn256 pairing, e(P,Q)e(-P,Q) = 1", 0x08, g1 + g2 + neg_g1 + g2, 400_000, True),
        ("bn256 pairing, e(P,Q) != 1", 0x08, g1 + g2, 400_000, True),
        ("bn256 pairing, bad length", 0x08, g1 + g2[:64], 400_000, False),
        ("blake2f, EIP-152 vector 5", 0x09, blake_abc, 100_000, True),
        ("blake2f, 0 rounds", 0x09, bytes(4) + blake_abc[4:], 100_000, True),
        ("blake2f, bad final flag", 0x09, blake_abc[:-1] + b"\x02", 100_000, False),
        ("blake2f, bad length", 0x09, blake_abc[:-1], 100_000, False),
        ("point evaluation, bad length", 0x0A, b"\x01" * 100, 100_000, False),
        ("BLS12-381 G1ADD, infinity + infinity", 0x0B, bytes(256), 100_000, True),
        ("BLS12-381 G1ADD, G + G", 0x0B, bls_g1 + bls_g1, 100_000, True),
        ("BLS12-381 G1ADD, point not on curve", 0x0B, bls_g1[:127] + b"\x05" + bls_g1, 100_000, False),
        ("BLS12-381 G1MSM, one pair", 0x0C, bls_g1 + word(3), 100_000, True),
        ("BLS12-381 G1MSM, two pairs (discount)", 0x0C, bls_g1 + word(3) + bls_neg_g1 + word(5), 100_000, True),
        ("BLS12-381 G2ADD, G + G", 0x0D, bls_g2 + bls_g2, 100_000, True),
        ("BLS12-381 G2MSM, one pair", 0x0E, bls_g2 + word(7), 100_000, True),
        ("BLS12-381 pairing, e(P,Q)e(-P,Q) = 1", 0x0F, bls_g1 + bls_g2 + bls_neg_g1 + bls_g2, 300_000, True),
        ("BLS12-381 pairing, empty input", 0x0F, b"", 300_000, False),
        ("BLS12-381 MAP_FP_TO_G1", 0x10, word(0) + word(12345), 100_000, True),
        ("BLS12-381 MAP_FP2_TO_G2", 0x11, word(0) + word(12345) + word(0) + word(678), 100_000, True),
    ]


def build_script(arts: dict) -> tuple[Script, dict[str, str]]:
    s = Script()
    named: dict[str, str] = {}

    # Plain transfers, the three transaction types, the EIP-7623 calldata floor.
    s.add("transfer to a fresh address", 0, to=FRESH[0], value=ETHER, gas=21_000)
    s.add("legacy (type 0) transfer", 1, to=A2, value=12345, gas=21_000, tx_type=0)
    s.add("access list (type 1) transfer", 1, to=FRESH[1], value=1, gas=30_000, tx_type=1,
          access_list=[{"address": FRESH[1], "storageKeys": ["0x" + "00" * 32]}])
    s.add("calldata floor (EIP-7623): 4 KiB to an account without code", 2, to=A3, data=b"\x5a" * 4096, gas=300_000)

    # Deploys.
    token = named["Token"] = s.deploy("deploy ERC-20", 0, arts["Token"].bytecode
                                      + abi_encode(["string", "string", "uint256"], ["Differential", "DIF", 10**9 * ETHER]))
    nft = named["Collectible"] = s.deploy("deploy ERC-721", 0, arts["Collectible"].bytecode)
    lab = named["Lab"] = s.deploy("deploy Lab", 0, arts["Lab"].bytecode)
    factory = named["Factory"] = s.deploy("deploy Factory", 0, arts["Factory"].bytecode)

    # ERC-20.
    s.add("erc20 transfer", 0, to=token, data=calldata("transfer(address,uint256)", A1, 1000 * ETHER))
    s.add("erc20 approve", 1, to=token, data=calldata("approve(address,uint256)", A2, 500 * ETHER))
    s.add("erc20 transferFrom", 2, to=token, data=calldata("transferFrom(address,address,uint256)", A1, A3, 200 * ETHER))
    s.add("erc20 transfer over balance: ERC20InsufficientBalance", 3, to=token,
          data=calldata("transfer(address,uint256)", A0, 10**30), ok=False)
    s.add("erc20 transferFrom over allowance: ERC20InsufficientAllowance", 2, to=token,
          data=calldata("transferFrom(address,address,uint256)", A1, A3, 400 * ETHER), ok=False)
    s.add("erc20 transfer to zero: ERC20InvalidReceiver", 1, to=token,
          data=calldata("transfer(address,uint256)", "0x" + "00" * 20, 1), ok=False)
    s.add("custom error NotAllowed(address)", 1, to=token, data=calldata("guarded()"), ok=False)
    s.add("Error(string)", 1, to=token, data=calldata("failWith(string)", "differential"), ok=False)

    # ERC-721.
    s.add("erc721 mint to an account (id 1)", 0, to=nft, data=calldata("mint(address)", A1))
    s.add("erc721 safe mint to a receiver contract (id 2)", 0, to=nft, data=calldata("mint(address)", lab))
    s.add("erc721 safe mint to a non-receiver: ERC721InvalidReceiver", 0, to=nft,
          data=calldata("mint(address)", factory), ok=False)
    s.add("erc721 approve", 1, to=nft, data=calldata("approve(address,uint256)", A2, 1))
    s.add("erc721 transferFrom by the approved", 2, to=nft, data=calldata("transferFrom(address,address,uint256)", A1, A3, 1))
    s.add("erc721 setApprovalForAll", 3, to=nft, data=calldata("setApprovalForAll(address,bool)", A2, True))
    s.add("erc721 safeTransferFrom by an operator to a receiver", 2, to=nft,
          data=calldata("safeTransferFrom(address,address,uint256)", A3, lab, 1))
    s.add("erc721 transfer by a stranger: ERC721InsufficientApproval", 3, to=nft,
          data=calldata("transferFrom(address,address,uint256)", A3, A1, 2), ok=False)
    s.add("erc721 approve of a missing token: ERC721NonexistentToken", 1, to=nft,
          data=calldata("approve(address,uint256)", A2, 99), ok=False)
    s.add("erc721 mint (id 3)", 0, to=nft, data=calldata("mint(address)", A1))
    s.add("erc721 burn", 1, to=nft, data=calldata("burn(uint256)", 3))
    s.add("value to a contract without receive()", 0, to=nft, value=1, ok=False)

    # Reverts and caught failures.
    s.add("custom error with arguments", 1, to=lab, data=calldata("failCustom(uint256)", 7), ok=False)
    s.add("custom error without arguments", 1, to=lab, data=calldata("failEmpty()"), ok=False)
    s.add("panic: division by zero", 1, to=lab, data=calldata("failPanic(uint256)", 0), ok=False)
    s.add("revert after a write and a log", 1, to=lab, data=calldata("failAfterWrite(uint256)", 9), ok=False)
    s.add("bare revert", 1, to=lab, data=calldata("failBare()"), ok=False)
    s.add("INVALID opcode: all gas consumed", 1, to=lab, data=calldata("failInvalid()"), gas=100_000, ok=False)
    s.add("caught revert, data logged", 1, to=lab, data=calldata("tryFail(uint256)", 5))

    # CREATE2 and SELFDESTRUCT (Cancun: EIP-6780).
    salt1, salt2, salt3 = (bytes([n]) * 32 for n in (1, 2, 3))
    init = arts["Destructible"].bytecode
    d1 = named["Destructible 1"] = create2_address(factory, salt1, init + word(11))
    d2 = named["Destructible 2"] = create2_address(factory, salt2, init + word(22))
    d3 = named["Destructible 3"] = create2_address(factory, salt3, init + word(33))
    s.add("CREATE2 with value", 0, to=factory, data=calldata("deploy(bytes32,uint256)", salt1, 11), value=ETHER)
    s.add("CREATE2 collision", 0, to=factory, data=calldata("deploy(bytes32,uint256)", salt1, 11), ok=False)
    s.add("SELFDESTRUCT of an older contract: moves the balance, keeps code and storage", 0, to=d1,
          data=calldata("destroy(address)", A3))
    s.add("value to the self-destructed contract, still there", 0, to=d1, value=5)
    s.add("CREATE2 and SELFDESTRUCT in one transaction: deleted", 0, to=factory,
          data=calldata("deployAndDestroy(bytes32,uint256,address)", salt2, 22, A2), value=2 * ETHER)
    s.add("CREATE2 again at the deleted address", 0, to=factory, data=calldata("deploy(bytes32,uint256)", salt2, 22))
    s.add("CREATE2 with value, for a SELFDESTRUCT to itself", 0, to=factory,
          data=calldata("deploy(bytes32,uint256)", salt3, 33), value=ETHER)
    s.add("SELFDESTRUCT of an older contract to itself: keeps its balance", 0, to=d3, data=calldata("destroy(address)", d3))
    s.add("constructor SELFDESTRUCT via CREATE: value to the beneficiary", 0, to=factory,
          data=calldata("ephemeral(address)", A1), value=3 * ETHER, returns_address=True)
    s.add("constructor SELFDESTRUCT to itself: value burned", 0, to=factory,
          data=calldata("ephemeral(address)", "0x" + "00" * 20), value=ETHER, returns_address=True)
    named["Ephemeral"] = s.deploy("creation transaction whose constructor self-destructs", 3,
                                  arts["Ephemeral"].bytecode + abi_encode(["address"], [A2]), value=ETHER)

    # Precompiles.
    for name, address, data, gas, ok in precompile_cases():
        step = s.add(f"precompile {name}", 1, to=lab, gas=CALL_GAS + gas,
                     data=calldata("precompile(address,bytes,uint256)", f"0x{address:040x}", data, gas))
        step.returns_flag = ok  # whether the precompile itself succeeded

    # Storage, transient storage, logs, context.
    s.add("storage-heavy loop: 150 new slots", 0, to=lab, data=calldata("fill(uint256,uint256)", 0, 150), gas=5_000_000)
    s.add("clearing 100 slots (refunds, capped)", 0, to=lab, data=calldata("clear(uint256,uint256)", 0, 100), gas=3_000_000)
    s.add("one slot written four times", 0, to=lab, data=calldata("churn(uint256)", 3))
    s.add("one fresh slot written four times", 0, to=lab, data=calldata("churn(uint256)", 500))
    s.add("transient storage and MCOPY", 0, to=lab, data=calldata("transient(uint256)", 42))
    s.add("LOG0..LOG4", 0, to=lab, data=calldata("logs(bytes)", bytes(range(100))))
    s.add("block and transaction context", 0, to=lab, data=calldata("context()"), value=1)
    s.add("value to a contract with receive()", 0, to=lab, value=ETHER)

    # Out of gas.
    s.add("out of gas at the top level", 1, to=lab, data=calldata("burn(uint256)", 5000), gas=60_000, ok=False)
    s.add("out of gas in a sub-call, caught", 1, to=lab, data=calldata("tryBurn(uint256,uint256)", 5000, 30_000))
    s.add("sub-call asking for more gas than it can have (63/64 rule)", 1, to=lab,
          data=calldata("tryBurn(uint256,uint256)", 3, 10**7), gas=200_000)
    s.add("out of gas in the code deposit", 1, data=arts["Lab"].bytecode, gas=600_000, ok=False)

    # Precompiles called by a transaction, value to a precompile, touching an empty account.
    s.add("transaction to sha256", 2, to="0x" + "00" * 19 + "02", data=b"abc", gas=30_000)
    s.add("transaction to ecrecover", 2, to="0x" + "00" * 19 + "01", data=precompile_cases()[0][2], gas=30_000)
    s.add("transaction to blake2f with a bad input: all gas consumed", 2, to="0x" + "00" * 19 + "09", data=b"\x01" * 10,
          gas=30_000, ok=False)
    s.add("value to a precompile through a contract", 0, to=lab, value=10,
          data=calldata("poke(address,uint256,bytes)", "0x" + "00" * 19 + "04", 7, b"hello"))
    s.add("zero-value call to an account that does not exist (EIP-161)", 0, to=lab,
          data=calldata("poke(address,uint256,bytes)", FRESH[3], 0, b""))
    s.add("EXTCODEHASH, EXTCODESIZE, BALANCE of all kinds of accounts", 0, to=lab, gas=1_000_000,
          data=calldata("inspect(address[])", [lab, d1, d2, d3, A0, FRESH[3], "0x" + "00" * 19 + "04",
                                               "0x" + "00" * 19 + "0b", "0x" + "00" * 19 + "ff", named["Ephemeral"]]))
    s.add("SELFDESTRUCT in the creating transaction to an account that does not exist", 0, to=factory,
          data=calldata("deployAndDestroy(bytes32,uint256,address)", bytes([4]) * 32, 44, FRESH[2]), value=ETHER)
    s.add("memory expansion to 1 MiB", 0, to=lab, data=calldata("expand(uint256)", 2**20), gas=3_000_000)
    s.add("CREATE from a contract with 49152 bytes of init code", 0, to=lab,
          data=calldata("createRaw(uint256,uint256)", 49152, 0), gas=1_000_000)
    s.add("CREATE from a contract with 49153 bytes of init code (EIP-3860)", 0, to=lab,
          data=calldata("createRaw(uint256,uint256)", 49153, 0), gas=1_000_000, ok=False)
    s.add("CREATE from a contract with more value than it has", 0, to=lab,
          data=calldata("createRaw(uint256,uint256)", 0, 10**30), gas=200_000)
    s.add("RETURNDATACOPY out of bounds", 0, to=lab, data=calldata("returnDataOutOfBounds()"), gas=100_000, ok=False)
    s.add("type 2 with an access list of the contract's slots", 1, to=lab, data=calldata("burn(uint256)", 2),
          access_list=[{"address": lab, "storageKeys": ["0x" + "00" * 31 + "01"]}])
    s.add("init code over 49152 bytes at the top level", 2, data=bytes(49153), gas=1_000_000, refused=True)
    s.add("gas below the intrinsic cost", 2, to=A0, value=1, gas=20_999, refused=True)

    # Creation failures.
    s.add("init code that reverts", 2, data=bytes.fromhex("60006000fd"), gas=100_000, ok=False)
    s.add("init code returning code that starts with 0xEF (EIP-3541)", 2,
          data=bytes.fromhex("60ef60005360016000f3"), gas=100_000, ok=False)
    s.add("init code returning 24577 bytes (EIP-170)", 2, data=bytes.fromhex("6160016000f3"), gas=1_000_000, ok=False)
    return s, named


# --- running and comparing --------------------------------------------------------------------


def normalize(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def call_outcome(node: DevNode, step: Step, block: str) -> tuple[str, str]:
    """("ok", data), ("reverted", data) or ("failed", "") for the step's call at ``block``."""
    call: dict[str, Any] = {"from": step.sender, "data": "0x" + step.data.hex(), "value": hex(step.value), "gas": hex(step.gas)}
    if step.to is not None:
        call["to"] = step.to
    try:
        return ("ok", node.rpc("eth_call", call, block).lower())
    except RpcFailure as failure:
        if failure.code == 3:
            return ("reverted", (failure.data or "0x").lower())
        return ("failed", "")


RECEIPT_FIELDS = ("status", "gasUsed", "cumulativeGasUsed", "effectiveGasPrice", "contractAddress", "logsBloom",
                  "type", "blockNumber", "transactionIndex", "from", "to")
BLOCK_FIELDS = ("number", "baseFeePerGas", "gasUsed", "gasLimit", "miner")


SHOWN_CHARS = 120
MAX_SHOWN_DIFFS = 60


def compare(diffs: list[str], where: str, what: str, anvil: Any, ours: Any) -> None:
    """Add a line to ``diffs`` when the values differ; long strings show where they part."""
    if anvil == ours:
        return
    if isinstance(anvil, str) and isinstance(ours, str) and max(len(anvil), len(ours)) > SHOWN_CHARS:
        at = next((i for i, (a, b) in enumerate(zip(anvil, ours)) if a != b), min(len(anvil), len(ours)))
        start = max(0, at - 16)
        anvil = f"[{len(anvil)} chars, from {start}] ...{anvil[start:start + SHOWN_CHARS // 2]}..."
        ours = f"[{len(ours)} chars, from {start}] ...{ours[start:start + SHOWN_CHARS // 2]}..."
        diffs.append(f"{where}: {what}: anvil={anvil} chameleon={ours}")
        return
    diffs.append(f"{where}: {what}: anvil={anvil!r} chameleon={ours!r}")


def compare_logs(diffs: list[str], where: str, anvil: list[tuple], ours: list[tuple]) -> None:
    compare(diffs, where, "number of logs", len(anvil), len(ours))
    for i, (theirs, mine) in enumerate(zip(anvil, ours)):
        for name, a, b in zip(("address", "topics", "data", "logIndex"), theirs, mine):
            compare(diffs, where, f"log {i} {name}", a, b)


def touched_by_trace(anvil: AnvilNode, tx_hash: str) -> dict[str, set[str]]:
    """Accounts and storage slots the transaction changed, by Anvil's prestateTracer."""
    trace = anvil.rpc("debug_traceTransaction", tx_hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}})
    touched: dict[str, set[str]] = defaultdict(set)
    for side in ("pre", "post"):
        for address, account in trace.get(side, {}).items():
            touched[address.lower()].update(key.lower() for key in account.get("storage", {}))
    return touched


def compute_storage_root(values: dict[str, int]) -> str:
    """The storage root of these slots (keys as 32-byte hex), as Ethereum defines it."""
    trie = HexaryTrie({})
    for key, value in values.items():
        if value:
            trie[keccak(bytes.fromhex(key[2:]))] = rlp.encode(value)
    return "0x" + trie.root_hash.hex()


def check_storage_root(diffs: list[str], where: str, anvil: AnvilNode, ours: DevNode, address: str,
                       keys: Any, block: str, proofs: list[dict] | None = None) -> bool:
    """Our storage root of ``address`` at ``block`` against the root of its slots' values on Anvil;
    False (and a line in ``diffs``) when they differ.

    ``keys`` are all the slots any transaction so far changed, so the root of their non-zero
    values is the account's storage root. Anvil's own ``storageHash`` cannot serve: Anvil 1.7.1
    keeps a slot set back to zero in its storage trie as a leaf holding 0 (its eth_getProof for
    such a slot proves the value 0x80), so its root differs from Ethereum's once a slot is cleared.
    """
    keys = sorted(keys)
    if proofs is None:
        proofs = [node.rpc("eth_getProof", address, keys if node is anvil else [], block) for node in (anvil, ours)]
    values = {key: int(entry["value"], 16) for key, entry in zip(keys, proofs[0]["storageProof"])}
    expected = compute_storage_root(values)
    if proofs[1]["storageHash"] == expected:
        return True
    diffs.append(f"{where}: storage root of {address}: chameleon={proofs[1]['storageHash']}, but the "
                 f"{sum(1 for v in values.values() if v)} non-zero slots Anvil shows give {expected} "
                 f"(Anvil's own storageHash: {proofs[0]['storageHash']})")
    return False


def verify_our_proof(proof: dict, state_root: str) -> None:
    """Our eth_getProof answer proves what it says under our block's stateRoot."""
    root = bytes.fromhex(state_root[2:])
    address = bytes.fromhex(proof["address"][2:])
    nodes = [rlp.decode(bytes.fromhex(n[2:])) for n in proof["accountProof"]]
    encoded = HexaryTrie.get_from_proof(root, keccak(address), nodes)
    if encoded:
        nonce, balance, storage_root, code_hash = rlp.decode(encoded)
        assert (int.from_bytes(nonce, "big"), int.from_bytes(balance, "big")) == (int(proof["nonce"], 16), int(proof["balance"], 16))
        assert ("0x" + storage_root.hex(), "0x" + code_hash.hex()) == (proof["storageHash"], proof["codeHash"])
    else:
        assert proof["balance"] == "0x0" and proof["nonce"] == "0x0" and proof["storageHash"] == "0x" + BLANK_ROOT_HASH.hex()
    storage_root = bytes.fromhex(proof["storageHash"][2:])
    for entry in proof["storageProof"]:
        slot_nodes = [rlp.decode(bytes.fromhex(n[2:])) for n in entry["proof"]]
        value = HexaryTrie.get_from_proof(storage_root, keccak(bytes.fromhex(entry["key"][2:])), slot_nodes)
        assert int(entry["value"], 16) == (rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0)


@pytest.fixture(scope="module")
def arts():
    from tests.contracts.compile import compile_contracts

    return compile_contracts(["Token", "Differential"])


@pytest.fixture(scope="module")
def nodes(module_node_factory, tmp_path_factory):
    if not ANVIL.exists():
        pytest.skip(f"Anvil not found at {ANVIL}: run ./scripts/test or npm ci first")
    anvil = AnvilNode(tmp_path_factory.mktemp("anvil"), name="anvil")
    try:
        anvil.start()
        yield anvil, module_node_factory(name="chameleon")
    finally:
        anvil.close()


def test_same_transactions_same_results_as_anvil(nodes, arts) -> None:
    anvil, ours = nodes
    script, named = build_script(arts)
    diffs: list[str] = []
    surprises: list[str] = []
    slots: dict[str, set[str]] = defaultdict(set)
    diverged: set[str] = set()
    fees_diverged = False
    accounts: set[str] = {COINBASE, *(a.lower() for a in PRECOMPILES), *(a.lower() for a in named.values())}

    for step in script.steps:
        where = f"#{step.index} {step.name}"
        hashes = []
        for node in (anvil, ours):
            try:
                hashes.append(node.send_raw(step.raw))
            except RpcFailure as failure:
                hashes.append(f"refused: {failure}")
        if step.refused:
            refusals = [h.startswith("refused") for h in hashes]
            if refusals != [True, True]:
                diffs.append(f"{where}: meant to be refused by both: anvil={hashes[0]!r} chameleon={hashes[1]!r}")
            continue
        compare(diffs, where, "eth_sendRawTransaction", hashes[0], hashes[1])
        if not all(h == step.hash for h in hashes):
            diffs.append(f"{where}: transaction hash: want {step.hash}, anvil={hashes[0]!r} chameleon={hashes[1]!r}")
            continue
        receipts = [node.wait_receipt(step.hash) for node in (anvil, ours)]
        for name in RECEIPT_FIELDS:
            if name == "effectiveGasPrice" and fees_diverged:
                continue
            compare(diffs, where, name, normalize(receipts[0].get(name)), normalize(receipts[1].get(name)))
        logs = [[(log["address"].lower(), [t.lower() for t in log["topics"]], log["data"].lower(), log["logIndex"])
                 for log in r["logs"]] for r in receipts]
        compare_logs(diffs, where, logs[0], logs[1])
        number = receipts[0]["blockNumber"]
        blocks = [node.rpc("eth_getBlockByNumber", number, False) for node in (anvil, ours)]
        for name in BLOCK_FIELDS:
            if name == "baseFeePerGas" and fees_diverged:
                continue
            compare(diffs, where, f"block {name}", normalize(blocks[0][name]), normalize(blocks[1][name]))
        if blocks[0]["baseFeePerGas"] != blocks[1]["baseFeePerGas"] and not fees_diverged:
            fees_diverged = True  # every later base fee follows from this one: not reported again
            diffs.append(f"{where}: (base fees and effective gas prices of later blocks not compared)")
        before = hex(int(number, 16) - 1)
        outcomes = [call_outcome(node, step, before) for node in (anvil, ours)]
        compare(diffs, where, "eth_call at the block before: outcome", outcomes[0][0], outcomes[1][0])
        compare(diffs, where, "eth_call at the block before: return or revert data", outcomes[0][1], outcomes[1][1])

        ok = receipts[0]["status"] == "0x1"
        if ok != step.expect_ok:
            surprises.append(f"{where}: meant to {'succeed' if step.expect_ok else 'fail'}, but on Anvil status={receipts[0]['status']}")
        accounts.update(a.lower() for a in (step.sender, step.to, step.created) if a)
        accounts.update(log[0] for log in logs[0])
        if step.returns_flag is not None and outcomes[0][1][:66] != "0x" + f"{int(step.returns_flag):064x}":
            surprises.append(f"{where}: meant to return {step.returns_flag} first, but on Anvil: {outcomes[0]}")
        if step.returns_address and outcomes[0][0] == "ok":
            accounts.add("0x" + outcomes[0][1][-40:])
        for address, keys in touched_by_trace(anvil, step.hash).items():
            accounts.add(address)
            slots[address].update(keys)
            if address not in SYSTEM_CONTRACTS and address not in diverged:
                if not check_storage_root(diffs, where, anvil, ours, address, slots[address], number):
                    diverged.add(address)  # its later roots would differ too: reported once

    head = ours.rpc("eth_getBlockByNumber", "latest", False)
    compare(diffs, "head", "block number", anvil.block_number(), int(head["number"], 16))
    for address in sorted(accounts - SYSTEM_CONTRACTS):
        where = f"account {address}"
        keys = sorted(slots.get(address, ()))
        proofs = [node.rpc("eth_getProof", address, keys, "latest") for node in (anvil, ours)]
        verify_our_proof(proofs[1], head["stateRoot"])
        compare(diffs, where, "balance", int(proofs[0]["balance"], 16), int(proofs[1]["balance"], 16))
        compare(diffs, where, "nonce", int(proofs[0]["nonce"], 16), int(proofs[1]["nonce"], 16))
        compare(diffs, where, "code", anvil.rpc("eth_getCode", address, "latest"), ours.rpc("eth_getCode", address, "latest"))
        compare(diffs, where, "codeHash", proofs[0]["codeHash"], proofs[1]["codeHash"])
        check_storage_root(diffs, where, anvil, ours, address, keys, head["number"], proofs)
        same_storage = proofs[0]["storageHash"] == proofs[1]["storageHash"]
        for key, theirs, mine in zip(keys, proofs[0]["storageProof"], proofs[1]["storageProof"]):
            compare(diffs, where, f"slot {key}", int(theirs["value"], 16), int(mine["value"], 16))
            if same_storage:  # the same trie: the same proof, node for node
                compare(diffs, where, f"slot {key} proof", theirs["proof"], mine["proof"])
            compare(diffs, where, f"slot {key} eth_getStorageAt", anvil.rpc("eth_getStorageAt", address, key, "latest"),
                    ours.rpc("eth_getStorageAt", address, key, "latest"))

    assert not surprises, "the script does not do what it says on Anvil:\n" + "\n".join(surprises)
    shown = diffs[:MAX_SHOWN_DIFFS] + ([f"... and {len(diffs) - MAX_SHOWN_DIFFS} more"] if len(diffs) > MAX_SHOWN_DIFFS else [])
    assert not diffs, f"{len(diffs)} differences from Anvil:\n" + "\n".join(shown)
    # The script is what it claims: enough steps, accounts and slots were compared.
    assert len(script.steps) > 80 and len(accounts) > 25 and sum(len(k) for k in slots.values()) > 150
