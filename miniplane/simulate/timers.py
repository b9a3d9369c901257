"""A heap of timers keyed by due time: one task drives every simulated node's clock (pure, no I/O)."""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

T = TypeVar("T")


class Timers(Generic[T]):
    """Items due at given times; ``due(now)`` hands out the ones whose time has come, earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()  # ties keep insertion order and never compare items

    def add(self, when: float, item: T) -> bool:
        """Schedule ``item`` at ``when``; True if it is now the earliest timer (the driver should wake)."""
        seq = next(self._seq)
        heapq.heappush(self._heap, (when, seq, item))
        return self._heap[0][1] == seq

    def due(self, now: float) -> list[T]:
        """Remove and return every item due at or before ``now``."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def next_at(self) -> float | None:
        """When the earliest item is due, or None when there is none."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
