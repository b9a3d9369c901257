"""Counters and a latency histogram of a simulation, written as JSON for benchmarks (pure, no I/O).

Latencies go into geometric buckets (10% apart, 0.1 ms to 100 s), so a reader takes two snapshots,
subtracts the counts and reads any quantile of that window to within 10%.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BOUNDS: tuple[float, ...] = tuple(0.0001 * 1.1**i for i in range(int(math.log(1e6) / math.log(1.1)) + 2))


@dataclass(slots=True)
class Latencies:
    """Counts per bucket of ``BOUNDS`` (the last bucket also takes everything slower)."""

    counts: list[int] = field(default_factory=lambda: [0] * len(BOUNDS))

    def observe(self, seconds: float) -> None:
        self.counts[min(bisect.bisect_left(BOUNDS, seconds), len(BOUNDS) - 1)] += 1


def quantile(counts: Sequence[int], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` of ``counts`` (None when empty)."""
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    running = 0
    for bound, count in zip(BOUNDS, counts, strict=False):
        running += count
        if running >= rank:
            return bound
    return BOUNDS[-1]


def window(before: Sequence[int], after: Sequence[int]) -> list[int]:
    """The counts observed between two snapshots."""
    return [b - a for a, b in zip(before, after, strict=True)]


@dataclass(slots=True)
class Stats:
    """What a simulation did so far."""

    nodes: int
    registered: int = 0
    renewals: int = 0
    renewal_failures: int = 0
    status_posts: int = 0
    pods_started: int = 0
    pods_deleted: int = 0
    request_errors: int = 0
    renewal_latency: Latencies = field(default_factory=Latencies)

    def snapshot(self, now: float) -> dict[str, Any]:
        """A JSON-ready copy; ``time`` is the wall clock it was taken at."""
        return {
            "time": now,
            "nodes": self.nodes,
            "registered": self.registered,
            "renewals": self.renewals,
            "renewal_failures": self.renewal_failures,
            "status_posts": self.status_posts,
            "pods_started": self.pods_started,
            "pods_deleted": self.pods_deleted,
            "request_errors": self.request_errors,
            "renewal_latency": list(self.renewal_latency.counts),
        }


def rate(before: Mapping[str, Any], after: Mapping[str, Any], key: str) -> float:
    """Per-second rate of counter ``key`` between two snapshots."""
    seconds = float(after["time"]) - float(before["time"])
    return (after[key] - before[key]) / seconds if seconds > 0 else 0.0
