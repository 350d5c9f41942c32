"""RPC of a node on the network: net_peerCount, eth_syncing (with progress), chameleon_peers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.rpc.encode import d, q

if TYPE_CHECKING:
    from node.p2p import NodeNetwork


class PeerApi:
    def __init__(self, p2p: "NodeNetwork") -> None:
        self.p2p = p2p

    def methods(self) -> dict[str, Any]:
        return {
            "net_peerCount": self.net_peerCount,
            "eth_syncing": self.eth_syncing,
            "chameleon_peers": self.chameleon_peers,
            "chameleon_nodeInfo": self.chameleon_nodeInfo,
        }

    async def net_peerCount(self) -> str:
        return q(self.p2p.peer_count)

    async def eth_syncing(self) -> bool | dict[str, str]:
        """False, or geth's progress object while the node catches up with its peers (during a
        fast sync, ``currentBlock`` is the last block stored without state, and
        ``knownStates``/``pulledStates`` count the state nodes found and downloaded)."""
        syncer = self.p2p.syncer
        if not syncer.syncing:
            return False
        return {"startingBlock": q(syncer.starting_block), "currentBlock": q(syncer.current_block),
                "highestBlock": q(syncer.target), "knownStates": q(syncer.known_states),
                "pulledStates": q(syncer.pulled_states)}

    async def chameleon_peers(self) -> list[dict[str, Any]]:
        return [
            {"id": p.peer_id, "multiaddr": p.multiaddr, "direction": p.direction,
             "head": {"number": q(p.head.number), "hash": d(p.head.hash)},
             "finalized": {"number": q(p.finalized.number), "hash": d(p.finalized.hash)},
             "score": round(p.score, 2)}
            for p in self.p2p.net.peers()
        ]

    async def chameleon_nodeInfo(self) -> dict[str, Any]:
        net = self.p2p.net
        return {"id": net.peer_id, "multiaddr": net.multiaddr}
