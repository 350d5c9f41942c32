"""geth's ``prestateTracer``: the accounts a transaction touched, as they were before it.

An account is recorded the first time the transaction reaches it (sender, recipient and
coinbase at the start; then BALANCE, EXTCODE*, SELFDESTRUCT, the CALL family, CREATE and
CREATE2 targets; SLOAD/SSTORE slots of the running contract), with ``balance`` (hex),
``nonce`` (a number, left out when 0), ``code`` and ``codeHash`` when it has code, and the
slots read or written. Accounts that did not exist are left out. ``diffMode`` gives
``{post, pre}``: for each account the transaction changed, what changed (post) and what it
was (pre), storage limited to the changed slots; created accounts appear in post only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth._utils.address import generate_contract_address, generate_safe_contract_address
from eth_hash.auto import keccak

from vm.trace.hooks import Tracer, TxInfo, stack_int
from vm.trace.opcodes import CALL_OPS, CREATE, CREATE2, SLOAD, SSTORE

BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH, SELFDESTRUCT = 0x31, 0x3B, 0x3C, 0x3F, 0xFF
_ACCOUNT_OPS = frozenset((BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH, SELFDESTRUCT))
EMPTY_CODE_HASH = keccak(b"")


@dataclass(frozen=True, slots=True)
class PrestateTracerConfig:
    diff_mode: bool = False
    disable_code: bool = False
    disable_storage: bool = False
    include_empty: bool = False


@dataclass(slots=True)
class _Account:
    balance: int | None
    nonce: int
    code: bytes | None
    code_hash: bytes | None
    storage: dict[int, int] = field(default_factory=dict)
    empty: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.balance is not None:
            out["balance"] = hex(self.balance)
        if self.code is not None:
            out["code"] = "0x" + self.code.hex()
        if self.code_hash is not None:
            out["codeHash"] = "0x" + self.code_hash.hex()
        if self.nonce:
            out["nonce"] = self.nonce
        if self.storage:
            out["storage"] = {_word(k): _word(v) for k, v in sorted(self.storage.items())}
        return out


class PrestateTracer(Tracer):
    opcodes = _ACCOUNT_OPS | CALL_OPS | frozenset((SLOAD, SSTORE, CREATE, CREATE2))

    def __init__(self, config: PrestateTracerConfig = PrestateTracerConfig()) -> None:
        self.config = config
        self.pre: dict[bytes, _Account] = {}
        self.post: dict[bytes, _Account] = {}
        self.created: set[bytes] = set()
        self.deleted: set[bytes] = set()
        self._state: Any = None

    def _lookup_account(self, address: bytes) -> None:
        if address in self.pre:
            return
        state = self._state
        code = state.get_code(address)
        account = _Account(
            balance=state.get_balance(address),
            nonce=state.get_nonce(address),
            code=code or None,
            code_hash=keccak(code) if code else None,
        )
        account.empty = not (account.nonce or code or account.balance)
        if self.config.disable_code:
            account.code = None
        self.pre[address] = account

    def _lookup_storage(self, address: bytes, slot: int) -> None:
        if self.config.disable_storage:
            return
        self._lookup_account(address)
        storage = self.pre[address].storage
        if slot not in storage:
            storage[slot] = self._state.get_storage(address, slot)

    def start(self, state: Any, tx: TxInfo) -> None:
        self._state = state
        if tx.is_create:
            self.created.add(tx.to)
        self._lookup_account(tx.sender)
        self._lookup_account(tx.to)
        self._lookup_account(tx.coinbase)

    def before_opcode(self, computation: Any, pc: int, op: int, gas: int, depth: int) -> Any:
        stack = computation._stack.values
        caller = bytes(computation.msg.storage_address)
        if op == SLOAD or op == SSTORE:
            if stack:
                self._lookup_storage(caller, stack_int(stack[-1]))
        elif op in _ACCOUNT_OPS:
            if stack:
                self._lookup_account(stack_int(stack[-1]).to_bytes(32, "big")[12:])
                if op == SELFDESTRUCT and caller in self.created:  # EIP-6780
                    self.deleted.add(caller)
        elif op in CALL_OPS:
            if len(stack) >= 5:
                self._lookup_account(stack_int(stack[-2]).to_bytes(32, "big")[12:])
        elif op == CREATE:
            address = bytes(generate_contract_address(caller, self._state.get_nonce(caller)))
            self._lookup_account(address)
            self.created.add(address)
        elif op == CREATE2 and len(stack) >= 4:
            offset, size, salt = stack_int(stack[-2]), stack_int(stack[-3]), stack_int(stack[-4])
            memory = computation._memory._bytes
            init = bytes(memory[offset:offset + size]).ljust(size, b"\0")
            address = bytes(generate_safe_contract_address(caller, salt, init))
            self._lookup_account(address)
            self.created.add(address)
        return None

    def end(self, state: Any, outcome: Any) -> None:
        if self.config.diff_mode:
            self._compute_diff(state)
        if not self.config.include_empty:
            self.pre = {address: account for address, account in self.pre.items() if not account.empty}

    def _compute_diff(self, state: Any) -> None:
        for address, before in list(self.pre.items()):
            if address in self.deleted:
                continue
            after = _Account(balance=None, nonce=0, code=None, code_hash=None)
            modified = False
            balance = state.get_balance(address)
            if balance != before.balance:
                modified, after.balance = True, balance
            nonce = state.get_nonce(address)
            if nonce != before.nonce:
                modified, after.nonce = True, nonce
            code = state.get_code(address)
            # geth (since April 2026) compares GetCodeHash, the zero hash for an account that
            # does not exist, and so lists every touched empty account (a precompile called,
            # say) as changed to codeHash 0x00…; compare the code's hash, as it meant to.
            code_hash = keccak(code)
            if code_hash != (before.code_hash or EMPTY_CODE_HASH):
                modified, after.code_hash = True, code_hash
            if not self.config.disable_code and code != (before.code or b""):
                modified, after.code = True, code
            if not self.config.disable_storage:
                for slot, value in list(before.storage.items()):
                    if value == 0:
                        del before.storage[slot]
                    now = state.get_storage(address, slot)
                    if now == value:
                        before.storage.pop(slot, None)
                    else:
                        modified = True
                        if now:
                            after.storage[slot] = now
            if modified:
                self.post[address] = after
            else:
                del self.pre[address]

    def result(self) -> dict[str, Any]:
        pre = {"0x" + a.hex(): account.to_json() for a, account in sorted(self.pre.items())}
        if not self.config.diff_mode:
            return pre
        post = {"0x" + a.hex(): account.to_json() for a, account in sorted(self.post.items())}
        return {"post": post, "pre": pre}


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()
