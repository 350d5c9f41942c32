"""The engines a chain spec may name: adding an engine touches only ``ENGINES``.

``get_engine(spec.consensus, chain_id=spec.chain_id, signer=..., sign_state=...)`` builds
the engine the spec's ``consensus.engine`` names from the rest of that section. The
``dev`` engine (one sealer, every block final at once) still lives in the node's dev
sealer and is not built here.
"""
from __future__ import annotations

from typing import Any, Mapping

from consensus.bft.engine import BftEngine
from consensus.engine import ConsensusEngine
from consensus.keys import Signer
from consensus.poa.core import PoaCore
from runtime.errors import InvalidChainSpec

ENGINES: dict[str, type[ConsensusEngine]] = {
    PoaCore.name: PoaCore,
    BftEngine.name: BftEngine,
}


def get_engine(section: Mapping[str, Any], *, chain_id: int, signer: Signer | None = None,
               sign_state: bytes | None = None) -> ConsensusEngine:
    """The engine for a chain spec's ``consensus`` section.

    Parameters:
        section: the ``consensus`` object of the chain spec (``{"engine": name, ...}``).
        chain_id: the chain's EIP-155 id (every signature commits to it).
        signer: this node's validator key, or None for a node that only follows.
        sign_state: the bytes last persisted for ``PersistSignState`` (None on first start).

    Raises:
        InvalidChainSpec: an unknown engine, or a bad field of the engine's section.
    """
    if not isinstance(section, Mapping):
        raise InvalidChainSpec("consensus", "expected an object with an 'engine' field")
    name = section.get("engine")
    engine_class = ENGINES.get(name) if isinstance(name, str) else None
    if engine_class is None:
        raise InvalidChainSpec("consensus.engine",
                               f"unknown consensus engine {name!r}; known engines: {', '.join(sorted(ENGINES))}")
    return engine_class.from_spec(section, chain_id=chain_id, signer=signer, sign_state=sign_state)


__all__ = ["ENGINES", "get_engine"]
