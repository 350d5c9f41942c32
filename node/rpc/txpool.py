"""The txpool_ namespace, as geth answers it."""
from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from node.rpc.encode import encode_transaction, q
from node.service import Node


class TxPoolApi:
    def __init__(self, node: Node) -> None:
        self.node = node

    def methods(self) -> dict[str, Any]:
        return {
            "txpool_status": self.txpool_status,
            "txpool_content": self.txpool_content,
            "txpool_inspect": self.txpool_inspect,
        }

    def _split(self):
        return self.node.pool.content(self.node.account_nonce)

    async def txpool_status(self) -> dict[str, str]:
        pending, queued = self._split()
        return {"pending": q(sum(map(len, pending.values()))), "queued": q(sum(map(len, queued.values())))}

    async def txpool_content(self) -> dict[str, Any]:
        pending, queued = self._split()

        def shape(groups):
            return {
                to_checksum_address(sender): {str(nonce): encode_transaction(tx) for nonce, tx in txs.items()}
                for sender, txs in groups.items()
            }

        return {"pending": shape(pending), "queued": shape(queued)}

    async def txpool_inspect(self) -> dict[str, Any]:
        pending, queued = self._split()

        def summary(tx) -> str:
            to = to_checksum_address(tx.to) if tx.to is not None else "contract creation"
            return f"{to}: {tx.value} wei + {tx.gas} gas × {tx.max_fee_per_gas} wei"

        def shape(groups):
            return {
                to_checksum_address(sender): {str(nonce): summary(tx) for nonce, tx in txs.items()}
                for sender, txs in groups.items()
            }

        return {"pending": shape(pending), "queued": shape(queued)}
