"""Peer scores and bans: pure bookkeeping with an injected clock (no sockets, no trio).

Every peer starts at 0. Misbehaviour subtracts a penalty; penalties fade with a half-life,
so an honest peer that once sent something odd is forgiven. A peer whose score falls
below the ban threshold is banned for a while: disconnected, not dialled, refused if it
reconnects. A peer of another chain is *refused* the same way, without a score.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

FORGET_BELOW = 0.5  # a faded score this close to 0 is dropped from the table


@dataclass(slots=True)
class _Score:
    value: float
    updated: float


@dataclass(frozen=True, slots=True)
class Block:
    until: float
    reason: str
    banned: bool  # True: score ban; False: refused (another chain, …)


class PeerScores:
    def __init__(
        self,
        *,
        ban_threshold: float,
        ban_duration_s: float,
        half_life_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ban_threshold = ban_threshold
        self.ban_duration_s = ban_duration_s
        self.half_life_s = half_life_s
        self._clock = clock
        self._scores: dict[str, _Score] = {}
        self._blocks: dict[str, Block] = {}
        self.invalid: Counter[str] = Counter()  # reason -> count, every peer together

    def get(self, peer: str) -> float:
        entry = self._scores.get(peer)
        if entry is None:
            return 0.0
        return self._decayed(entry, self._clock())

    def penalize(self, peer: str, reason: str, penalty: float) -> bool:
        """Count ``reason`` and lower the peer's score; True if it just crossed the ban threshold."""
        self.invalid[reason] += 1
        if self.blocked(peer) is not None:
            return False  # already out; late messages must not re-ban or extend it
        now = self._clock()
        entry = self._scores.get(peer)
        value = (self._decayed(entry, now) if entry else 0.0) - penalty
        self._scores[peer] = _Score(value, now)
        return value < self.ban_threshold

    def ban(self, peer: str, reason: str, duration_s: float | None = None) -> Block:
        """Ban the peer (its score starts again from 0 when the ban ends)."""
        block = Block(self._clock() + (self.ban_duration_s if duration_s is None else duration_s), reason, True)
        self._blocks[peer] = block
        self._scores.pop(peer, None)
        return block

    def refuse(self, peer: str, reason: str, duration_s: float) -> Block:
        block = Block(self._clock() + duration_s, reason, False)
        self._blocks[peer] = block
        return block

    def blocked(self, peer: str) -> Block | None:
        """The ban or refusal in force for the peer, if any."""
        block = self._blocks.get(peer)
        if block is None or self._clock() >= block.until:
            return None  # an ended block stays in the table until expire() reports it
        return block

    def expire(self) -> list[str]:
        """Lift ended bans and forget faded scores; returns the peers no longer blocked."""
        now = self._clock()
        lifted = [p for p, b in self._blocks.items() if now >= b.until]
        for peer in lifted:
            del self._blocks[peer]
        faded = [p for p, s in self._scores.items() if abs(self._decayed(s, now)) < FORGET_BELOW]
        for peer in faded:
            del self._scores[peer]
        return lifted

    def blocked_peers(self) -> dict[str, Block]:
        now = self._clock()
        return {p: b for p, b in self._blocks.items() if now < b.until}

    def _decayed(self, entry: _Score, now: float) -> float:
        if self.half_life_s <= 0:
            return entry.value
        return entry.value * 0.5 ** ((now - entry.updated) / self.half_life_s)
