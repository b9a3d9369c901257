"""DaemonSet status (pure): the counters of §2, over existing nodes, from each node's oldest pod.

``compute_status`` is Kubernetes' ``updateDaemonSetStatus``; ``DaemonSetStatus.needs_write`` and
``apply_to`` are ``storeDaemonSetStatus``: skip the write when nothing changed, otherwise replace
the counters and keep everything else (``collisionCount``, client-written ``conditions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from miniplane.controllers.daemonset.claim import claim
from miniplane.controllers.daemonset.podutil import (
    Pod,
    group_by_node,
    is_available,
    is_ready,
    is_updated,
    name,
    oldest_first,
    template_generation,
)
from miniplane.scheduling.daemon import daemon_pod_spec, should_run_spec

_ALWAYS_WRITTEN = ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady")


@dataclass(frozen=True, slots=True)
class DaemonSetStatus:
    """The controller-owned part of ``DaemonSet.status``."""

    desired_number_scheduled: int
    current_number_scheduled: int
    number_misscheduled: int
    number_ready: int
    number_available: int
    number_unavailable: int
    updated_number_scheduled: int
    observed_generation: int | None  # None: a status-only sync keeps the stored value

    def counters(self) -> dict[str, int]:
        """The seven counters under their API names."""
        return {
            "desiredNumberScheduled": self.desired_number_scheduled,
            "currentNumberScheduled": self.current_number_scheduled,
            "numberMisscheduled": self.number_misscheduled,
            "numberReady": self.number_ready,
            "numberAvailable": self.number_available,
            "numberUnavailable": self.number_unavailable,
            "updatedNumberScheduled": self.updated_number_scheduled,
        }

    def needs_write(self, ds: Mapping[str, Any]) -> bool:
        """False when every counter equals the stored one and observedGeneration >= generation."""
        stored = ds.get("status") or {}
        same = all(int(stored.get(k) or 0) == v for k, v in self.counters().items())
        generation = int((ds.get("metadata") or {}).get("generation") or 0)
        return not (same and int(stored.get("observedGeneration") or 0) >= generation)

    def apply_to(self, status: Mapping[str, Any]) -> dict[str, Any]:
        """The full status to PUT: counters replaced (zero ones omitted except the four required)."""
        result = {k: v for k, v in status.items() if k not in self.counters()}
        result.update({k: v for k, v in self.counters().items() if v or k in _ALWAYS_WRITTEN})
        if self.observed_generation is not None:
            result["observedGeneration"] = self.observed_generation
        return result


def compute_status(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    pods: Iterable[Pod],
    current_hash: str,
    now: datetime,
    *,
    full_sync: bool = True,
) -> DaemonSetStatus:
    """Status from all nodes and every pod of the DS namespace (claimed here)."""
    spec = daemon_pod_spec(ds)
    should_run = {name(n): should_run_spec(n, spec)[0] for n in nodes}
    return status_from(ds, should_run, group_by_node(claim(ds, pods).owned), current_hash, now, full_sync)


def status_from(
    ds: Mapping[str, Any],
    should_run: Mapping[str, bool],  # existing nodes -> shouldRun
    pods_by_node: Mapping[str, Sequence[Pod]],  # claimed pods, terminal-and-deleted ones left out
    current_hash: str,
    now: datetime,
    full_sync: bool,
) -> DaemonSetStatus:
    """``compute_status`` over precomputed placement and pod grouping."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    desired = current = misscheduled = ready = available = updated = 0
    for node_name, wanted in should_run.items():
        pods = pods_by_node.get(node_name) or []
        if not wanted:
            misscheduled += bool(pods)
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        oldest = pods[0] if len(pods) == 1 else min(pods, key=oldest_first)
        ready += is_ready(oldest)
        available += is_available(oldest, min_ready, now)
        updated += is_updated(oldest, current_hash, generation)
    observed = int((ds.get("metadata") or {}).get("generation") or 0) if full_sync else None
    unavailable = desired - available
    return DaemonSetStatus(desired, current, misscheduled, ready, available, unavailable, updated, observed)
