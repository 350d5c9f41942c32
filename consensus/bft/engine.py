"""``BftEngine``: the Tendermint core (``core.TendermintCore``) behind the ``ConsensusEngine`` interface.

A thin adapter. The seal of a bft block is its **commit**: the precommits (>2/3 of the
voting power) for ``header.hash`` at ``header.number`` in the commit round, stored beside
the block, so any node (or light client) checks finality from blocks and seals alone.

``handle`` takes the core's events (``Start``, ``ProposalReceived``, ``VoteReceived``,
``TimeoutFired``, ``BlockReady``) plus ``BlockImported`` (a block synced with its commit:
final at once; the core moves past its height) and ``Tick`` (ignored: Tendermint's time
enters as ``TimeoutFired``). Effects are the common ones of ``consensus.engine``, plus the
core's own ``ScheduleTimeout`` and ``RequestBlock``. What a driver does with each:

- ``PersistSignState(SignState)``: persist ``encode_sign_state(state)`` durably before
  the next effect (it always precedes the ``Broadcast`` of what was signed).
- ``Broadcast(message)``: gossip ``message.encode()`` (a ``Proposal`` also needs its block).
- ``ScheduleTimeout(h, r, step, delay_ms)``: feed ``TimeoutFired(h, r, step)`` after the delay.
- ``RequestBlock(h, r)``: build a block at height ``h`` on the last final block and feed
  ``BlockReady(h, r, block_hash)``; a ``Proposal`` received from a peer is fed as
  ``ProposalReceived(proposal, block_valid)`` once the driver has the block and executed it.
- ``Finalized(number, hash, precommits, seal)``: store the block with ``seal`` beside it,
  make it the head and the finalized head; then feed ``BlockImported(header, seal)``.
- ``ReportEvidence(DoubleSign)``: keep it for inclusion in a block.
"""
from __future__ import annotations

from typing import Any, Mapping

import rlp
from rlp.sedes import big_endian_int

from consensus.bft import core as bft
from consensus.bft.core import SignState, TendermintCore, TimeoutConfig
from consensus.engine import (
    BlockImported,
    Broadcast,
    ConsensusEngine,
    Finalized,
    InvalidSeal,
    PersistSignState,
    ReportEvidence,
    Seal,
    Tick,
    parse_spec_address,
)
from consensus.errors import ConsensusError, MalformedMessage
from consensus.keys import Signer
from consensus.messages import Vote
from consensus.types import Step, Validator, ValidatorSet, VoteType
from runtime.errors import InvalidChainSpec
from runtime.primitives.header import Header

ENGINE_NAME = "bft"
_TIMEOUT_FIELDS = {
    "proposeMs": "propose_ms", "proposeDeltaMs": "propose_delta_ms",
    "prevoteMs": "prevote_ms", "prevoteDeltaMs": "prevote_delta_ms",
    "precommitMs": "precommit_ms", "precommitDeltaMs": "precommit_delta_ms",
}


def compute_commit_seal(validators: ValidatorSet, round: int, precommits: tuple[Vote, ...]) -> Seal:
    """The seal of a committed block: its precommits, sorted by validator."""
    pairs = tuple(sorted((v.validator, v.signature) for v in precommits))
    return Seal(ENGINE_NAME, validators.compute_hash(), round, pairs)


class BftEngine(ConsensusEngine):
    """Tendermint behind the engine interface; ``core`` is the wrapped ``TendermintCore``."""

    name = ENGINE_NAME
    carries_last_commit = True

    def __init__(self, *, chain_id: int, validators: ValidatorSet, signer: Signer | None = None,
                 timeouts: TimeoutConfig = TimeoutConfig(), sign_state: SignState | None = None) -> None:
        super().__init__(chain_id=chain_id, validators=validators, signer=signer)
        self.core = TendermintCore(chain_id=chain_id, validators=validators, signer=signer,
                                   timeouts=timeouts, sign_state=sign_state)

    @classmethod
    def from_spec(cls, section: Mapping[str, Any], *, chain_id: int, signer: Signer | None = None,
                  sign_state: bytes | None = None) -> BftEngine:
        """``{"engine": "bft", "validators": ["0x…" | {"address": "0x…", "power": n}, …],
        "timeouts": {"proposeMs": …, "proposeDeltaMs": …, "prevoteMs": …, …}}``."""
        entries = section.get("validators")
        if not isinstance(entries, list) or not entries:
            raise InvalidChainSpec("consensus.validators", "expected a non-empty list of validators")
        validators = []
        for i, entry in enumerate(entries):
            where = f"consensus.validators[{i}]"
            if isinstance(entry, str):
                address, power = entry, 1
            elif isinstance(entry, dict):
                address, power = entry.get("address"), entry.get("power", 1)
            else:
                raise InvalidChainSpec(where, "expected an address or {\"address\", \"power\"}")
            if not isinstance(power, int) or isinstance(power, bool) or power <= 0:
                raise InvalidChainSpec(f"{where}.power", "expected a whole number > 0")
            validators.append(Validator(parse_spec_address(address, where), power))
        try:
            validator_set = ValidatorSet(validators)
        except ValueError as exc:
            raise InvalidChainSpec("consensus.validators", str(exc)) from None
        timeouts_section = section.get("timeouts", {})
        if not isinstance(timeouts_section, dict):
            raise InvalidChainSpec("consensus.timeouts", "expected an object of milliseconds")
        kwargs = {}
        for key, value in timeouts_section.items():
            if key not in _TIMEOUT_FIELDS:
                raise InvalidChainSpec(f"consensus.timeouts.{key}",
                                       f"unknown timeout; known: {', '.join(_TIMEOUT_FIELDS)}")
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidChainSpec(f"consensus.timeouts.{key}", "expected whole milliseconds >= 0")
            kwargs[_TIMEOUT_FIELDS[key]] = value
        state = None if sign_state is None else cls.decode_sign_state(sign_state)
        return cls(chain_id=chain_id, validators=validator_set, signer=signer,
                   timeouts=TimeoutConfig(**kwargs), sign_state=state)

    # -- sign state ---------------------------------------------------------------------

    @property
    def sign_state(self) -> SignState | None:
        return self.core.sign_state

    def encode_sign_state(self, state: SignState) -> bytes:
        return rlp.encode([state.height, state.round, int(state.step)])

    @classmethod
    def decode_sign_state(cls, data: bytes) -> SignState:
        """Raises: MalformedMessage."""
        try:
            height, round_, step = (big_endian_int.deserialize(x) for x in rlp.decode(data))
            return SignState(height, round_, Step(step))
        except Exception:
            raise MalformedMessage("not a bft sign state") from None

    # -- validation ---------------------------------------------------------------------

    def validate_seal(self, header: Header, seal: Seal | None) -> None:
        """The seal is a commit: precommits for ``header.hash`` at its height, >2/3 of the power.

        Raises:
            InvalidSeal: with the reason (unknown signer, a signature over anything else,
                not enough power).
        """
        if seal is None:
            raise InvalidSeal("a bft header needs its commit")
        seal.validate_shape(self.name, self.validator_set_hash)
        power = 0
        for address, signature in seal.signatures:
            if address not in self.validators:
                raise InvalidSeal(f"commit signed by 0x{address.hex()}, not a validator")
            vote = Vote(VoteType.PRECOMMIT, header.number, seal.round, header.hash, address, signature)
            try:
                signer = vote.recover_signer(self.chain_id)
            except ConsensusError as exc:
                raise InvalidSeal(f"bad precommit signature of 0x{address.hex()}: {exc.reason}") from None
            if signer != address:
                raise InvalidSeal(f"precommit of 0x{address.hex()} is not for this block at height "
                                  f"{header.number}, round {seal.round}")
            power += self.validators.power_of(address)
        if not self.validators.has_quorum(power):
            raise InvalidSeal(f"commit has {power} of {self.validators.total_power} voting power, "
                              "needs more than 2/3")

    # -- the core -----------------------------------------------------------------------

    def handle(self, event: Any) -> list[Any]:
        """Apply one input; return the effects to perform, in order.

        Raises:
            ConsensusError: the input is dropped with a reason; the state is untouched.
        """
        if isinstance(event, Tick):
            return []
        if isinstance(event, BlockImported):
            return self._on_block_imported(event.header, event.seal)
        return self._translate(self.core.handle(event))

    def _on_block_imported(self, header: Header, seal: Seal | None) -> list[Any]:
        self.validate_seal(header, seal)
        assert seal is not None
        effects: list[Any] = []
        if self._process_finalized(header.number, header.hash):
            votes = tuple(Vote(VoteType.PRECOMMIT, header.number, seal.round, header.hash, a, s)
                          for a, s in seal.signatures)
            effects.append(Finalized(header.number, header.hash, votes, seal))
        if not self.core.started or self.core.height <= header.number:
            effects += self._translate(self.core.handle(bft.Start(header.number + 1)))
        return effects

    def _translate(self, effects: list[bft.Effect]) -> list[Any]:
        out: list[Any] = []
        for effect in effects:
            if isinstance(effect, bft.Broadcast):
                out.append(Broadcast(effect.message))
            elif isinstance(effect, bft.PersistSignState):
                out.append(PersistSignState(SignState(effect.height, effect.round, effect.step)))
            elif isinstance(effect, bft.ReportEvidence):
                out.append(ReportEvidence(effect.evidence))
            elif isinstance(effect, bft.Commit):
                if self._process_finalized(effect.height, effect.block_hash):
                    seal = compute_commit_seal(self.validators, effect.round, effect.precommits)
                    out.append(Finalized(effect.height, effect.block_hash, effect.precommits, seal))
            else:  # ScheduleTimeout, RequestBlock: bft's own
                out.append(effect)
        return out


__all__ = ["BftEngine", "compute_commit_seal"]
