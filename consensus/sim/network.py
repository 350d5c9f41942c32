"""A seeded network on a virtual clock: the only source of time and chance in a simulation.

Everything that happens in a simulation is an entry ``(time_ms, seq, destination, item)``
in one heap: messages in flight, timeouts the cores scheduled, the simulator's own timers
(crash, restart, gossip ticks). ``seq`` is a counter, so two entries at the same virtual
millisecond pop in the order they were pushed and the heap never compares items. Nothing
here reads the wall clock.

For every message sent, one ``random.Random`` (seeded by the caller) decides, in this order:
drop (probability ``drop``), the delay (uniform integer in ``[delay_min_ms, delay_max_ms]``),
and a duplicate (probability ``duplicate``, with its own delay). Independent delays are what
reorder messages. A node's own timers are never dropped or delayed.

Partitions
----------
A partition ``SPEC`` cuts the validators into groups for a span of virtual time::

    SPEC  := GROUP ("|" GROUP)+ "@" START ":" END
    GROUP := ITEM ("," ITEM)*
    ITEM  := INDEX | INDEX "-" INDEX        (an inclusive range)

INDEX is a validator's position in the validator set (0-based, the set's address order);
START and END are virtual milliseconds, the partition is active for ``START <= t < END``.
Validators named in no group form one more group together. While a partition is active, a
message between two groups is dropped when it is sent (messages already in flight arrive).
Examples: ``0-1|2-3@1000:5000`` (two pairs, from 1 s to 5 s), ``0|1-3@0:10000`` (validator 0
isolated for the first 10 s), ``0-65|66-99@2000:20000``.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Any, Sequence

PARTITION_GRAMMAR = (
    "SPEC is GROUP|GROUP[|...]@START:END: groups of validator indices (0-based, comma-separated, "
    "A-B an inclusive range), active from START to END virtual ms; unnamed validators form one more "
    "group; messages across groups are dropped while active. Example: 0-1|2-3@1000:5000"
)


@dataclass(frozen=True, slots=True)
class Partition:
    """Groups of validator indices cut off from each other for ``start_ms <= t < end_ms``."""

    groups: tuple[frozenset[int], ...]
    start_ms: int
    end_ms: int
    spec: str = ""

    def group_of(self, n: int) -> list[int]:
        """For each of ``n`` validators, the index of its group (unnamed ones share the last)."""
        out = [len(self.groups)] * n
        for g, members in enumerate(self.groups):
            for i in members:
                if i < n:
                    out[i] = g
        return out


def parse_partition(spec: str) -> Partition:
    """Parse a partition ``SPEC`` (grammar in the module docstring).

    Raises:
        ValueError: with what is wrong in the spec.
    """
    text = spec.strip()
    if "@" not in text:
        raise ValueError(f"partition {spec!r}: missing @START:END")
    groups_text, _, when = text.rpartition("@")
    start_text, sep, end_text = when.partition(":")
    if not sep:
        raise ValueError(f"partition {spec!r}: time must be START:END in ms")
    try:
        start, end = int(start_text), int(end_text)
    except ValueError:
        raise ValueError(f"partition {spec!r}: START and END must be integers (ms)") from None
    if start < 0 or end <= start:
        raise ValueError(f"partition {spec!r}: need 0 <= START < END")
    groups: list[frozenset[int]] = []
    seen: set[int] = set()
    for group_text in groups_text.split("|"):
        members: set[int] = set()
        for item in group_text.split(","):
            item = item.strip()
            lo_text, dash, hi_text = item.partition("-")
            try:
                lo = int(lo_text)
                hi = int(hi_text) if dash else lo
            except ValueError:
                raise ValueError(f"partition {spec!r}: {item!r} is not an index or A-B range") from None
            if lo < 0 or hi < lo:
                raise ValueError(f"partition {spec!r}: bad range {item!r}")
            members.update(range(lo, hi + 1))
        if members & seen:
            raise ValueError(f"partition {spec!r}: validator in two groups")
        seen |= members
        groups.append(frozenset(members))
    if len(groups) < 2:
        raise ValueError(f"partition {spec!r}: needs at least two groups separated by '|'")
    return Partition(tuple(groups), start, end, text)


class SimNetwork:
    """The event heap and the seeded link model; ``now`` is the virtual time in ms."""

    __slots__ = ("rng", "n", "drop", "duplicate", "delay_min_ms", "delay_span", "partitions",
                 "_groups", "now", "_heap", "_seq", "sent", "dropped", "duplicated")

    def __init__(self, rng: random.Random, n: int, *, delay_ms: tuple[int, int] = (25, 75),
                 drop: float = 0.0, duplicate: float = 0.0, partitions: Sequence[Partition] = ()) -> None:
        lo, hi = delay_ms
        if not (0 <= lo <= hi):
            raise ValueError("delay must be 0 <= MIN <= MAX")
        if not (0.0 <= drop < 1.0 and 0.0 <= duplicate < 1.0):
            raise ValueError("drop and duplicate are probabilities in [0, 1)")
        self.rng = rng
        self.n = n
        self.drop = drop
        self.duplicate = duplicate
        self.delay_min_ms = lo
        self.delay_span = hi - lo + 1
        self.partitions = tuple(partitions)
        self._groups = [p.group_of(n) for p in self.partitions]
        self.now = 0
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self.sent = 0
        self.dropped = 0
        self.duplicated = 0

    @property
    def last_heal_ms(self) -> int:
        """When the last partition ends (0 without partitions)."""
        return max((p.end_ms for p in self.partitions), default=0)

    def is_cut(self, src: int, dst: int) -> bool:
        """True while an active partition separates ``src`` from ``dst``."""
        now = self.now
        for p, groups in zip(self.partitions, self._groups):
            if p.start_ms <= now < p.end_ms and groups[src] != groups[dst]:
                return True
        return False

    def schedule(self, delay_ms: int, dst: int, item: Any) -> None:
        """A local timer of ``dst``: delivered after exactly ``delay_ms``, never lost."""
        self._seq += 1
        heapq.heappush(self._heap, (self.now + delay_ms, self._seq, dst, item))

    def send(self, src: int, dst: int, item: Any) -> None:
        """One message over the link ``src -> dst``: maybe dropped, delayed, duplicated."""
        self.sent += 1
        if self.partitions and self.is_cut(src, dst):
            self.dropped += 1
            return
        rng = self.rng
        if self.drop and rng.random() < self.drop:
            self.dropped += 1
            return
        heap = self._heap
        self._seq += 1
        heapq.heappush(heap, (self.now + self.delay_min_ms + int(rng.random() * self.delay_span), self._seq, dst, item))
        if self.duplicate and rng.random() < self.duplicate:
            self.duplicated += 1
            self._seq += 1
            heapq.heappush(heap, (self.now + self.delay_min_ms + int(rng.random() * self.delay_span), self._seq, dst, item))

    def pop(self) -> tuple[int, Any] | None:
        """The next entry ``(destination, item)``, advancing ``now``; None when nothing is left."""
        if not self._heap:
            return None
        time_ms, _, dst, item = heapq.heappop(self._heap)
        self.now = time_ms
        return dst, item

    def __len__(self) -> int:
        return len(self._heap)
