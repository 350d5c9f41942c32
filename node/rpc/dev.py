"""Dev-mode test methods, as Anvil and Hardhat name them."""
from __future__ import annotations

from typing import Any

from node.rpc.encode import q
from node.rpc.errors import EXECUTION_ERROR, RpcError
from node.rpc.params import parse_quantity
from node.service import Node


class DevApi:
    def __init__(self, node: Node) -> None:
        self.node = node

    def methods(self) -> dict[str, Any]:
        return {
            "evm_mine": self.evm_mine,
            "evm_snapshot": self.evm_snapshot,
            "evm_revert": self.evm_revert,
            "anvil_mine": self.anvil_mine,
            "hardhat_mine": self.anvil_mine,
            "evm_increaseTime": self.evm_increaseTime,
            "evm_setNextBlockTimestamp": self.evm_setNextBlockTimestamp,
            "evm_setAutomine": self.evm_setAutomine,
            "anvil_setAutomine": self.evm_setAutomine,
            "anvil_getAutomine": self.anvil_getAutomine,
            "hardhat_getAutomine": self.anvil_getAutomine,
        }

    async def evm_mine(self, timestamp: Any = None) -> str:
        if timestamp is not None:
            if isinstance(timestamp, dict):
                timestamp = timestamp.get("timestamp")
            if timestamp is not None:
                self._set_next_timestamp(parse_quantity(timestamp, 0, bits=64))
        self.node.seal()
        return "0x0"

    async def evm_snapshot(self) -> str:
        return q(self.node.snapshot())

    async def evm_revert(self, snapshot_id: Any) -> bool:
        return self.node.revert(parse_quantity(snapshot_id, 0, bits=64))

    async def anvil_mine(self, blocks: Any = "0x1", interval: Any = None) -> None:
        count = parse_quantity(blocks, 0, bits=32) if blocks is not None else 1
        step = parse_quantity(interval, 1, bits=64) if interval is not None else 0
        for _ in range(count):
            self.node.seal()
            if step:
                self.node.increase_time(step)

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
        self.node.automine = bool(enabled)

    async def anvil_getAutomine(self) -> bool:
        return self.node.automine
