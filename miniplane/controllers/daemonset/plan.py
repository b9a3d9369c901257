"""One DaemonSet sync as data (pure): ``compute_plan`` = Kubernetes' manage + rollingUpdate + status.

The loop reads one snapshot, calls ``plan_history`` (``history.py``) then ``compute_plan``, and
applies the plan: adopt/release, ``delete``, ``create_on`` with ``new_pods``, ``events``, ``backoff``,
``status``, and a re-sync after ``requeue_after``. The rollout step sees the pods as the manage step
leaves them (creations as pending pods, deletions as terminating), as upstream's next sync would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, overload

from miniplane.controllers.daemonset import events
from miniplane.controllers.daemonset.backoff import Backoff
from miniplane.controllers.daemonset.build import new_pod, pod_factory
from miniplane.controllers.daemonset.claim import claim, selector, selects_all
from miniplane.controllers.daemonset.manage import plan_for_node
from miniplane.controllers.daemonset.podutil import (
    Pod,
    available_at,
    group_by_node,
    is_bound,
    is_terminating,
    name,
)
from miniplane.controllers.daemonset.rollout import allows_surge, rolling_update
from miniplane.controllers.daemonset.status import DaemonSetStatus, status_from
from miniplane.scheduling.daemon import daemon_pod_spec, should_run_spec
from miniplane.timeutil import rfc3339


class PodBodies(Sequence[dict[str, Any]]):
    """The pod bodies for a list of nodes, each built (fresh, owned by the caller) when read.

    A sync over thousands of nodes holds only node names while its creations run in batches.
    """

    __slots__ = ("_ds", "_nodes", "_hash", "_make")

    def __init__(self, ds: Mapping[str, Any], nodes: Sequence[str], current_hash: str) -> None:
        self._ds, self._nodes, self._hash = ds, nodes, current_hash
        self._make: Callable[[str], dict[str, Any]] | None = None  # built on first use

    def __len__(self) -> int:
        return len(self._nodes)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if self._make is None:
            self._make = pod_factory(self._ds, self._hash)
        if isinstance(index, slice):
            return [self._make(node) for node in self._nodes[index]]
        return self._make(self._nodes[index])


@dataclass(frozen=True, slots=True)
class DaemonSetPlan:
    """Everything one sync decided."""

    create_on: tuple[str, ...] = ()  # node names that get a new daemon pod
    new_pods: Sequence[dict[str, Any]] = ()  # the pod body to create, one per ``create_on`` entry
    delete: tuple[str, ...] = ()  # pod names
    adopt: tuple[str, ...] = ()  # orphan pods to patch the controller reference into
    release: tuple[str, ...] = ()  # owned pods that stopped matching: patch the reference out
    events: tuple[events.Event, ...] = ()
    backoff: dict[str, Backoff] = field(default_factory=dict)  # entries to store, by backoff_key
    requeue_after: float | None = None  # seconds; availability or failed-pod back-off
    status: DaemonSetStatus | None = None  # None when the DS is not processed at all

    def fields(self) -> dict[str, int]:
        """Counts for a structured log line."""
        return {
            "create": len(self.create_on),
            "delete": len(self.delete),
            "adopt": len(self.adopt),
            "release": len(self.release),
            "events": len(self.events),
        }


def compute_plan(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],  # every node
    pods: Iterable[Pod],  # every pod of the DS namespace (claimed here)
    current_hash: str,  # HistoryPlan.current_hash
    now: datetime,
    backoff: Mapping[str, Backoff] | None = None,  # the loop's failed-pod back-off entries
) -> DaemonSetPlan:
    """Plan one full sync of the DaemonSet."""
    if (ds.get("metadata") or {}).get("deletionTimestamp"):
        return DaemonSetPlan()
    if selects_all(ds):
        return DaemonSetPlan(events=(events.selecting_all(),))
    if selector(ds) is None:
        return DaemonSetPlan()  # upstream fails the sync on a selector it cannot parse
    claimed = claim(ds, pods)
    spec = daemon_pod_spec(ds)
    placement = {name(n): should_run_spec(n, spec) for n in nodes}
    should_run = {n: p[0] for n, p in placement.items()}
    by_node = group_by_node(claimed.owned)
    surge = allows_surge(ds)
    create_on: list[str] = []
    delete: list[str] = []
    found: list[events.Event] = []
    entries: dict[str, Backoff] = {}
    waits: list[float] = []
    for node_name, where in placement.items():
        node_plan = plan_for_node(node_name, where, by_node.get(node_name), ds, current_hash, now, surge, backoff or {})
        if node_plan.create:
            create_on.append(node_name)
        delete += node_plan.delete
        found += node_plan.events
        entries.update(node_plan.backoff)
        if node_plan.requeue_after is not None:
            waits.append(node_plan.requeue_after)
    delete += [
        name(p)
        for node_name, node_pods in by_node.items()
        if node_name not in placement
        for p in node_pods
        if not is_bound(p) and not is_terminating(p)
    ]
    if ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") == "RollingUpdate":
        view = _after(by_node, create_on, set(delete), ds, current_hash, now)
        rollout = rolling_update(ds, should_run, view, current_hash, now)
        create_on += rollout.create_on
        delete += rollout.delete
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    waits += _until_available(claimed.owned, min_ready, now)
    return DaemonSetPlan(
        create_on=tuple(create_on),
        new_pods=PodBodies(ds, tuple(create_on), current_hash),
        delete=tuple(delete),
        adopt=claimed.adopt,
        release=claimed.release,
        events=tuple(found),
        backoff=entries,
        requeue_after=min(waits, default=None),
        status=status_from(ds, should_run, by_node, current_hash, now, True),
    )


def _after(
    by_node: Mapping[str, Sequence[Pod]],
    create_on: Sequence[str],
    deleted: set[str],
    ds: Mapping[str, Any],
    current_hash: str,
    now: datetime,
) -> dict[str, list[Pod]]:
    """The pods as the manage step leaves them: deletions terminating, creations pending."""
    stamp = rfc3339(now)
    view = {node: [_terminating(p, stamp) if name(p) in deleted else p for p in pods] for node, pods in by_node.items()}
    if create_on:  # one stand-in for every creation: the rollout reads labels and status, never the node
        pending = new_pod(ds, create_on[0], current_hash)
        pending["metadata"]["creationTimestamp"] = stamp
        for node_name in create_on:
            view.setdefault(node_name, []).append(pending)
    return view


def _terminating(pod: Pod, stamp: str) -> Pod:
    return {**pod, "metadata": {**(pod.get("metadata") or {}), "deletionTimestamp": stamp}}


def _until_available(pods: Iterable[Pod], min_ready: int, now: datetime) -> list[float]:
    """Seconds until each Ready pod still inside ``minReadySeconds`` turns available, plus 1 s."""
    if min_ready <= 0:
        return []
    times = (available_at(p, min_ready) for p in pods if not is_terminating(p))
    return [(at - now + timedelta(seconds=1)).total_seconds() for at in times if at is not None and at >= now]
