"""When a DaemonSet is synced again, and how its planning runs: the controller's pacing.

- Cool-down: after a sync that spent T > 0.25 s planning (decoding and deciding over several
  thousand nodes), changes to that DaemonSet are synced no sooner than T later; a change seen
  during a sync is queued when it ends. A DaemonSet over 10,000 nodes (about a second of planning)
  then takes at most half the process while its pods come up, leaving the rest to the API and the
  binder; smaller DaemonSets are synced as soon as something changes.
- Planning bursts run with the cyclic garbage collector paused: the objects they allocate live
  until the sync ends, so collections during the burst would only traverse them again and again
  (decoding 10,000 pods takes 3-5 times longer).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from miniplane.controllers.workqueue import WorkQueue

K = TypeVar("K", bound=Hashable)
COOLDOWN_THRESHOLD = 0.25  # seconds of planning in one sync


class Pacer(Generic[K]):
    """Cool-downs and planning time per key, in front of a work queue."""

    def __init__(self, queue: WorkQueue[K], threshold: float = COOLDOWN_THRESHOLD) -> None:
        self.queue = queue
        self.threshold = threshold
        self._cooldown: dict[K, float] = {}  # perf_counter time before which a key is not synced again
        self._planning: dict[K, float] = {}  # seconds the running sync of a key spent planning so far
        self._changed: set[K] = set()  # keys that changed while being synced

    def enqueue(self, key: K, delay: float = 0.0) -> None:
        """Queue a sync of ``key`` after ``delay`` seconds, and not before its cool-down ends."""
        if key in self._planning and delay <= 0:
            self._changed.add(key)
            return
        rest = self._cooldown.get(key, 0.0) - time.perf_counter()
        self.queue.add_after(key, max(delay, rest))

    def started(self, key: K) -> None:
        """A sync of ``key`` begins."""
        self._planning[key] = 0.0

    def finished(self, key: K) -> None:
        """The sync of ``key`` ended (after ``queue.done``): set its cool-down, queue a change seen meanwhile."""
        spent = self._planning.pop(key, 0.0)
        self._cooldown[key] = time.perf_counter() + (spent if spent > self.threshold else 0.0)
        if key in self._changed:
            self._changed.discard(key)
            self.enqueue(key)

    def forget(self, key: K) -> None:
        """The object is gone: drop its cool-down."""
        self._cooldown.pop(key, None)

    @contextlib.contextmanager
    def planning(self, key: K) -> Iterator[None]:
        """A synchronous burst of decoding and planning for ``key``: timed, with the collector paused."""
        was_enabled = gc.isenabled()
        gc.disable()
        start = time.perf_counter()
        try:
            yield
        finally:
            if key in self._planning:
                self._planning[key] += time.perf_counter() - start
            if was_enabled:
                gc.enable()
