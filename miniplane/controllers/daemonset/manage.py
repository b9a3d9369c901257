"""The per-node reconcile (pure): Kubernetes' ``podsShouldBeOnNode`` (§1.6, failed pods §4.1).

``compute_plan`` (``plan.py``) calls ``plan_for_node`` for every existing node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from miniplane.controllers.daemonset import events
from miniplane.controllers.daemonset.backoff import Backoff, backoff_key, next_backoff, remaining
from miniplane.controllers.daemonset.podutil import (
    HASH_LABEL,
    Pod,
    is_available,
    is_ready,
    is_terminating,
    labels,
    name,
    oldest_first,
    phase,
)


@dataclass(frozen=True, slots=True)
class NodePlan:
    """What one node needs."""

    create: bool = False
    delete: tuple[str, ...] = ()
    events: tuple[events.Event, ...] = ()
    backoff: tuple[tuple[str, Backoff], ...] = ()  # back-off entries to store
    requeue_after: float | None = None  # seconds until a throttled failed pod may be deleted


def plan_for_node(
    node_name: str,
    placement: tuple[bool, bool],  # (shouldRun, shouldContinueRunning) of the DS on this node
    pods: Sequence[Pod] | None,  # the DS's pods aimed at this node; None when there are none at all
    ds: Mapping[str, Any],
    current_hash: str,
    now: datetime,
    surge: bool,  # rollout.allows_surge(ds)
    backoff: Mapping[str, Backoff],  # failed-pod back-off entries by backoff_key
) -> NodePlan:
    """Decide creations and deletions on one node. Returns one of:

    1. ``create`` when the DS should run here and the node has no pod at all;
    2. when it may continue running here: deletion of Failed pods (back-off permitting) and Succeeded
       pods, then of excess running pods: all but the oldest without surge; with surge all but the
       oldest current and oldest old pod, and that old pod too once it is not Ready or the current
       one is available; with surge and no running pod, ``create``;
    3. when it may not continue: deletion of every pod not already terminating;
    4. nothing. Terminating pods are never deleted again and still occupy the node.
    """
    should_run, should_continue = placement
    if should_run and pods is None:
        return NodePlan(create=True)
    if not should_continue:
        return NodePlan(delete=tuple(name(p) for p in pods or () if not is_terminating(p)))
    namespace = (ds.get("metadata") or {}).get("namespace") or "default"
    delete: list[str] = []
    found: list[events.Event] = []
    running: list[Pod] = []
    entries: list[tuple[str, Backoff]] = []
    wait: float | None = None
    for pod in pods or ():
        if is_terminating(pod):
            continue
        if phase(pod) == "Failed":
            key = backoff_key(ds, node_name)
            left = remaining(backoff.get(key), now)
            if left is not None:
                wait = left.total_seconds() if wait is None else min(wait, left.total_seconds())
                continue
            entries.append((key, next_backoff(backoff.get(key), now)))
            found.append(events.failed_daemon_pod(namespace, name(pod), node_name))
            delete.append(name(pod))
        elif phase(pod) == "Succeeded":
            found.append(events.succeeded_daemon_pod(namespace, name(pod), node_name))
            delete.append(name(pod))
        else:
            running.append(pod)
    if len(running) > 1:
        running.sort(key=oldest_first)
    create = False
    if not surge:
        delete.extend(name(p) for p in running[1:])
    elif not running:
        create = should_run
    else:
        delete.extend(_prune_surge(running, ds, current_hash, now))
    return NodePlan(create, tuple(delete), tuple(found), tuple(entries), wait)


def _prune_surge(running: list[Pod], ds: Mapping[str, Any], current_hash: str, now: datetime) -> list[str]:
    """Keep the oldest current-hash and oldest other pod; drop the old one when it is not needed."""
    oldest_new: Pod | None = None
    oldest_old: Pod | None = None
    delete: list[str] = []
    for pod in running:  # oldest first
        if labels(pod).get(HASH_LABEL) == current_hash and oldest_new is None:
            oldest_new = pod
        elif labels(pod).get(HASH_LABEL) != current_hash and oldest_old is None:
            oldest_old = pod
        else:
            delete.append(name(pod))
    if oldest_new is not None and oldest_old is not None:
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if not is_ready(oldest_old) or is_available(oldest_new, min_ready, now):
            delete.append(name(oldest_old))
    return delete
