"""A keyed work queue for controllers, after client-go's rate-limiting workqueue.

- ``add(key)`` queues a key once: a key already waiting is not queued again, and a key being
  processed is re-queued when its worker calls ``done`` (so one key is never worked on by two
  workers at once, and a change seen during processing is never lost).
- ``add_after(key, delay)`` queues it later; an earlier pending time for the key wins.
- ``add_rate_limited(key)`` queues it after a per-key exponential back-off (5 ms doubling up to
  ``max_delay``); ``forget(key)`` resets that back-off once the key was processed successfully.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from miniplane.metrics import HistogramValues

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """``get`` on a queue that was shut down."""


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """Counters for /metrics: keys waiting now, keys added so far, rate-limited re-queues so far."""

    depth: int
    adds: int
    retries: int


class WorkQueue(Generic[K]):
    """Deduplicating, per-key serialised queue with delayed and rate-limited adds."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()  # waiting in the queue, or re-added while being processed
        self._processing: set[K] = set()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._ready = asyncio.Event()
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._adds = 0
        self._retries = 0
        self._started: dict[K, float] = {}  # keys being processed: when get handed them out
        self.work_seconds = HistogramValues()  # processing time per key (get to done), for /metrics
        self._shut_down = False

    def add(self, key: K) -> None:
        """Queue ``key`` unless it is waiting already."""
        if self._shut_down or key in self._dirty:
            return
        self._adds += 1
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._ready.set()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` in ``delay`` seconds (at once when not positive)."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        self._timers[key] = (when, loop.call_at(when, self._fire, key))

    def add_rate_limited(self, key: K) -> None:
        """Queue ``key`` after its back-off, which doubles on every call until ``forget``."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self._retries += 1
        self.add_after(key, min(self._base_delay * 2**failures, self._max_delay))

    def forget(self, key: K) -> None:
        """Reset the key's back-off."""
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        """How many rate-limited re-queues the key had since its last ``forget``."""
        return self._failures.get(key, 0)

    async def get(self) -> K:
        """The next key; the caller must call ``done(key)`` when finished with it."""
        while not self._queue:
            if self._shut_down:
                raise ShutDown
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        self._started[key] = time.perf_counter()
        return key

    def done(self, key: K) -> None:
        """Finish processing ``key``; queue it again if it was added meanwhile."""
        self._processing.discard(key)
        started = self._started.pop(key, None)
        if started is not None:
            self.work_seconds.observe(time.perf_counter() - started)
        if key in self._dirty:
            self._queue.append(key)
            self._ready.set()

    def shut_down(self) -> None:
        """Stop handing out keys; waiting ``get`` calls raise ShutDown once the queue is drained."""
        self._shut_down = True
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._ready.set()

    def __len__(self) -> int:
        return len(self._queue)

    def statistics(self) -> QueueStatistics:
        """Counters for /metrics."""
        return QueueStatistics(depth=len(self._queue), adds=self._adds, retries=self._retries)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)
