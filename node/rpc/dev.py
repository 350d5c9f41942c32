"""Dev-mode test methods, with Anvil's names, params, results and errors, and the
``hardhat_*``/``evm_*`` aliases Anvil answers to.

Only a dev chain registers these (``node/app.py``): on a chain run by a consensus engine
they do not exist, and a call gets geth's ``-32601 the method … does not exist/is not
available`` (evm_mine would seal around the engine; anvil_setBalance would make a node
disagree with its network).

Mining modes, as Anvil: automine (default), interval mining (``evm_setIntervalMining(s)``,
which turns automine off; ``0`` stops all mining, as Anvil's ``MiningMode::None``), or
none. Unlike Anvil, ``evm_setAutomine(true)`` keeps a running interval, so both can be on
together (transactions sealed at once, and a block every interval), as in Hardhat.

Quantities are taken as Anvil's deserializer takes them: hex with or without leading
zeros (``"0x"`` is 0), decimal strings and JSON numbers.
"""
from __future__ import annotations

from typing import Any

from node.dev_state import StateDumpError
from node.rpc.encode import q
from node.rpc.errors import EXECUTION_ERROR, INVALID_PARAMS, RpcError, invalid_params
from node.rpc.params import parse_address, parse_data, parse_quantity
from node.service import Node

MAX_NONCE = 2**64 - 1  # Anvil saturates a larger nonce to u64::MAX


def parse_dev_quantity(value: Any, index: int, *, bits: int = 256) -> int:
    """A U256 param as Anvil reads it: ``"0x…"`` (leading zeros allowed), decimal string, number.

    Raises:
        RpcError: -32602 naming the argument.
    """
    if isinstance(value, bool) or value is None:
        raise invalid_params(f"invalid argument {index}: expected a quantity")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            if value[:2] in ("0x", "0X"):
                number = int(value[2:], 16) if len(value) > 2 else 0
            else:
                number = int(value, 10)
        except ValueError:
            raise invalid_params(f"invalid argument {index}: invalid quantity {value!r}") from None
    else:
        raise invalid_params(f"invalid argument {index}: expected a quantity")
    if number < 0 or number.bit_length() > bits:
        raise invalid_params(f"invalid argument {index}: quantity out of range ({bits} bits)")
    return number


def parse_dev_bool(value: Any, index: int) -> bool:
    if not isinstance(value, bool):
        raise invalid_params(f"invalid argument {index}: expected a boolean")
    return value


class DevApi:
    def __init__(self, node: Node) -> None:
        self.node = node

    def methods(self) -> dict[str, Any]:
        return {
            "evm_mine": self.evm_mine,
            "evm_snapshot": self.evm_snapshot,
            "anvil_snapshot": self.evm_snapshot,
            "evm_revert": self.evm_revert,
            "anvil_revert": self.evm_revert,
            "anvil_mine": self.anvil_mine,
            "hardhat_mine": self.anvil_mine,
            "evm_increaseTime": self.evm_increaseTime,
            "anvil_increaseTime": self.evm_increaseTime,
            "evm_setNextBlockTimestamp": self.evm_setNextBlockTimestamp,
            "anvil_setNextBlockTimestamp": self.evm_setNextBlockTimestamp,
            "evm_setAutomine": self.evm_setAutomine,
            "anvil_setAutomine": self.evm_setAutomine,
            "anvil_getAutomine": self.anvil_getAutomine,
            "hardhat_getAutomine": self.anvil_getAutomine,
            "evm_setIntervalMining": self.evm_setIntervalMining,
            "anvil_setIntervalMining": self.evm_setIntervalMining,
            "anvil_getIntervalMining": self.anvil_getIntervalMining,
            # state edits
            "anvil_setBalance": self.anvil_setBalance,
            "hardhat_setBalance": self.anvil_setBalance,
            "anvil_setCode": self.anvil_setCode,
            "hardhat_setCode": self.anvil_setCode,
            "anvil_setNonce": self.anvil_setNonce,
            "hardhat_setNonce": self.anvil_setNonce,
            "evm_setAccountNonce": self.anvil_setNonce,
            "anvil_setStorageAt": self.anvil_setStorageAt,
            "hardhat_setStorageAt": self.anvil_setStorageAt,
            "anvil_dumpState": self.anvil_dumpState,
            "hardhat_dumpState": self.anvil_dumpState,
            "anvil_loadState": self.anvil_loadState,
            "hardhat_loadState": self.anvil_loadState,
            "anvil_reset": self.anvil_reset,
            "hardhat_reset": self.anvil_reset,
            # impersonation (eth_sendTransaction takes the unsigned transaction: node/rpc/signing.py)
            "anvil_impersonateAccount": self.anvil_impersonateAccount,
            "hardhat_impersonateAccount": self.anvil_impersonateAccount,
            "anvil_stopImpersonatingAccount": self.anvil_stopImpersonatingAccount,
            "hardhat_stopImpersonatingAccount": self.anvil_stopImpersonatingAccount,
            "anvil_autoImpersonateAccount": self.anvil_autoImpersonateAccount,
            "hardhat_autoImpersonateAccount": self.anvil_autoImpersonateAccount,
        }

    # -- mining and time ---------------------------------------------------------------

    async def evm_mine(self, options: Any = None) -> str:
        """One block now, regardless of the mining mode; or ``{"timestamp", "blocks"}``, or a
        bare timestamp. Returns "0x0" (ganache's placeholder, as Anvil)."""
        blocks = 1
        timestamp = options
        if isinstance(options, dict):
            timestamp = options.get("timestamp")
            if options.get("blocks") is not None:
                blocks = parse_dev_quantity(options["blocks"], 0, bits=64)
        if timestamp is not None:
            self._set_next_timestamp(parse_dev_quantity(timestamp, 0, bits=64))
        for _ in range(blocks):
            self.node.seal()
        return "0x0"

    async def anvil_mine(self, blocks: Any = None, interval: Any = None) -> None:
        """``blocks`` blocks (default 1); with ``interval``, the clock moves on by that many
        seconds before each of them, as Anvil's."""
        count = parse_dev_quantity(blocks, 0, bits=32) if blocks is not None else 1
        step = parse_dev_quantity(interval, 1, bits=64) if interval is not None else 0
        for _ in range(count):
            if step:
                self.node.increase_time(step)
            self.node.seal()

    async def evm_snapshot(self) -> str:
        return q(self.node.snapshot())

    async def evm_revert(self, snapshot_id: Any) -> bool:
        return self.node.revert(parse_dev_quantity(snapshot_id, 0, bits=64))

    async def evm_increaseTime(self, seconds: Any) -> str:
        return q(self.node.increase_time(parse_quantity(seconds, 0, bits=64)))

    async def evm_setNextBlockTimestamp(self, timestamp: Any) -> None:
        self._set_next_timestamp(parse_quantity(timestamp, 0, bits=64))

    def _set_next_timestamp(self, timestamp: int) -> None:
        try:
            self.node.set_next_timestamp(timestamp)
        except ValueError as exc:
            raise RpcError(EXECUTION_ERROR, str(exc)) from None

    async def evm_setAutomine(self, enabled: Any) -> None:
        self.node.automine = parse_dev_bool(enabled, 0)

    async def anvil_getAutomine(self) -> bool:
        return self.node.automine

    async def evm_setIntervalMining(self, seconds: Any) -> None:
        """Seal a block every ``seconds`` (automine off, as Anvil); 0: no mining at all."""
        self.node.set_interval(parse_dev_quantity(seconds, 0, bits=64) or None)
        self.node.automine = False

    async def anvil_getIntervalMining(self) -> int | float | None:
        """Seconds between interval-mined blocks, as a JSON number; null when off."""
        interval = self.node.interval
        if interval is None:
            return None
        return int(interval) if float(interval).is_integer() else interval

    # -- state edits -------------------------------------------------------------------

    async def anvil_setBalance(self, address: Any, balance: Any) -> None:
        account, value = parse_address(address, 0), parse_dev_quantity(balance, 1)
        self.node.edit_head_state(lambda state: state.set_balance(account, value))

    async def anvil_setCode(self, address: Any, code: Any) -> None:
        account = parse_address(address, 0)
        if isinstance(code, str) and not code.startswith(("0x", "0X")):
            code = "0x" + code  # Anvil takes hex with or without the prefix
        bytecode = parse_data(code, 1)
        self.node.edit_head_state(lambda state: state.set_code(account, bytecode))

    async def anvil_setNonce(self, address: Any, nonce: Any) -> None:
        account, value = parse_address(address, 0), min(parse_dev_quantity(nonce, 1), MAX_NONCE)
        self.node.edit_head_state(lambda state: state.set_nonce(account, value))

    async def anvil_setStorageAt(self, address: Any, slot: Any, value: Any) -> bool:
        account = parse_address(address, 0)
        key = parse_dev_quantity(slot, 1)
        word = int.from_bytes(parse_data(value, 2, length=32, what="storage value"), "big")
        self.node.edit_head_state(lambda state: state.set_storage(account, key, word))
        return True

    async def anvil_dumpState(self, preserve_historical_states: Any = None) -> str:
        """Every account at the head as a hex blob (format: ``node/dev_state.py``).
        ``preserve_historical_states`` is accepted and ignored: only the head's state is kept."""
        return "0x" + self.node.dump_state().hex()

    async def anvil_loadState(self, blob: Any) -> bool:
        data = parse_data(blob, 0)
        try:
            self.node.load_state(data)
        except StateDumpError as exc:
            raise RpcError(INVALID_PARAMS, "Failed to decode state dump", str(exc)) from None
        return True

    async def anvil_reset(self, options: Any = None) -> None:
        """Back to a fresh genesis of the chain spec. Forking (``{"forking": {"jsonRpcUrl", …}}``)
        is not supported and refused."""
        if options is not None:
            if not isinstance(options, dict):
                raise invalid_params("invalid argument 0: expected a reset options object")
            if any(options.get(key) is not None for key in ("forking", "jsonRpcUrl", "blockNumber")):
                raise invalid_params("anvil_reset: forking is not supported; call it without params to go back to genesis")
        self.node.reset()

    # -- impersonation ---------------------------------------------------------------

    async def anvil_impersonateAccount(self, address: Any) -> None:
        self.node.impersonated.add(parse_address(address, 0))

    async def anvil_stopImpersonatingAccount(self, address: Any) -> None:
        self.node.impersonated.discard(parse_address(address, 0))

    async def anvil_autoImpersonateAccount(self, enabled: Any) -> None:
        self.node.auto_impersonate = parse_dev_bool(enabled, 0)
