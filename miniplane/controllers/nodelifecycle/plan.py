"""Pure decisions of node lifecycle, taint-based eviction and pod GC (§5.2–5.5): no I/O, no clock.

Kubernetes spreads these over ``nodelifecycle``, ``tainteviction`` and ``podgc``; here one module
holds the decisions and the loops (``controller.py``, ``podgc.py``) feed them plain dicts and
``now``, then apply what comes back. Timestamps are written as Kubernetes writes them (RFC 3339).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from miniplane.controllers.daemonset.podutil import is_terminal, is_terminating
from miniplane.scheduling.taints import NO_EXECUTE, NO_SCHEDULE, Taint, node_taints, tolerates
from miniplane.timeutil import parse_time, rfc3339

Obj = Mapping[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

READY = "Ready"
# The conditions the controller turns Unknown when heartbeats stop (NetworkUnavailable is not its to change).
HEALTH_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
# (condition type, status) → the NoSchedule taint it brings.
CONDITION_TAINTS = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): MEMORY_PRESSURE,
    ("DiskPressure", "True"): DISK_PRESSURE,
    ("PIDPressure", "True"): PID_PRESSURE,
    ("NetworkUnavailable", "True"): NETWORK_UNAVAILABLE,
}
_READY_TAINTS = frozenset((key, effect) for key in (NOT_READY, UNREACHABLE) for effect in (NO_SCHEDULE, NO_EXECUTE))
# Every (key, effect) the controller owns; any other taint is left as it is.
MANAGED_TAINTS = _READY_TAINTS | {(key, NO_SCHEDULE) for key in (*CONDITION_TAINTS.values(), UNSCHEDULABLE)}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Heartbeat = tuple[datetime, timedelta]  # a node's own newest heartbeat and the grace period after it


@dataclass(frozen=True, slots=True)
class NodePlan:
    """What to write on one node, and when to look at it again."""

    conditions: list[dict[str, Any]] | None  # new status.conditions; None: unchanged
    taints: list[dict[str, Any]] | None  # new spec.taints; None: unchanged
    lost: bool  # Ready just went Unknown from True/False: record NodeNotReady on the node
    recheck_at: datetime | None  # the heartbeat deadline while the node is healthy


def plan_node(
    node: Obj,
    lease_renewed: datetime | None,
    first_seen: datetime,
    now: datetime,
    grace: timedelta,
    startup_grace: timedelta,
) -> NodePlan:
    """Conditions and taints of a node, given its newest heartbeats (§5.2)."""
    deadline = heartbeat_deadline(node, lease_renewed, first_seen, grace, startup_grace)
    conditions = unknown_conditions(node, now) if now >= deadline else None
    current = node
    if conditions is not None:
        current = {**node, "status": {**(node.get("status") or {}), "conditions": conditions}}
    before = node_condition(node, READY)
    lost = conditions is not None and before in ("True", "False")
    return NodePlan(conditions, desired_taints(current, now), lost, deadline if now < deadline else None)


def with_changes(
    node: dict[str, Any], conditions: list[dict[str, Any]] | None, taints: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """``node`` (modified in place) with new ``status.conditions`` and ``spec.taints`` (None: unchanged)."""
    if conditions is not None:
        node.setdefault("status", {})["conditions"] = conditions
    if taints is not None:
        spec = node.setdefault("spec", {})
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
    return node


def lease_renew_time(lease: Obj) -> datetime | None:
    """A Lease's ``spec.renewTime``, if it has a readable one."""
    renewed = _time((lease.get("spec") or {}).get("renewTime"), _EPOCH)
    return None if renewed == _EPOCH else renewed


def node_condition(node: Obj, kind: str) -> str | None:
    """The status of one of the node's conditions (None when it has none of that type)."""
    condition = _condition(node, kind)
    return None if condition is None else condition.get("status")


def heartbeat_deadline(
    node: Obj, lease_renewed: datetime | None, first_seen: datetime, grace: timedelta, startup_grace: timedelta
) -> datetime:
    """When the node stops counting as healthy: its newest heartbeat plus the grace period.

    Heartbeats are the Ready condition's ``lastHeartbeatTime`` and the Lease's ``renewTime``; the
    time the controller first saw the node counts as one, so a (re)started controller grants a
    full grace period. A node that never posted a Ready condition gets the startup grace period
    from its creation (or its newest Lease renewal).
    """
    return later_deadline(own_heartbeat(node, first_seen, grace, startup_grace), lease_renewed)


def later_deadline(heartbeat: Heartbeat, lease_renewed: datetime | None) -> datetime:
    """The heartbeat deadline from the node's own heartbeat (``own_heartbeat``) and its Lease's renewal."""
    base, period = heartbeat
    return max(base, lease_renewed or _EPOCH) + period


def own_heartbeat(node: Obj, first_seen: datetime, grace: timedelta, startup_grace: timedelta) -> Heartbeat:
    """The node's newest heartbeat not counting its Lease, and the grace period after heartbeats: the
    deadline is the later of it and the Lease's ``renewTime``, plus that period."""
    ready = _condition(node, READY)
    if ready is None:
        return _time(_meta(node).get("creationTimestamp"), first_seen), startup_grace
    return max(_time(ready.get("lastHeartbeatTime"), _EPOCH), first_seen), grace


def unknown_conditions(node: Obj, now: datetime) -> list[dict[str, Any]] | None:
    """The node's conditions once its heartbeats are overdue, or None when they are Unknown already.

    Ready, MemoryPressure, DiskPressure and PIDPressure become Unknown with a new
    ``lastTransitionTime`` and an unchanged ``lastHeartbeatTime``; missing ones are added as never
    updated, with the node's creation time as their heartbeat.
    """
    conditions = [dict(c) for c in _conditions(node)]
    changed = False
    for kind in HEALTH_CONDITIONS:
        found = next((c for c in conditions if c.get("type") == kind), None)
        if found is None:
            conditions.append(
                {
                    "type": kind,
                    "status": "Unknown",
                    "lastHeartbeatTime": _meta(node).get("creationTimestamp") or rfc3339(now),
                    "lastTransitionTime": rfc3339(now),
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                }
            )
            changed = True
        elif found.get("status") != "Unknown":
            found.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=rfc3339(now),
            )
            changed = True
    return conditions if changed else None


def desired_taints(node: Obj, now: datetime) -> list[dict[str, Any]] | None:
    """The node's taints per the §5.2 table, or None when they are right already.

    Taints follow the conditions and ``spec.unschedulable``; NoExecute ones carry ``timeAdded``.
    Taints the controller does not own keep their place; wanted ones already there keep their
    ``timeAdded``. A node without a Ready condition keeps whatever not-ready/unreachable taints it
    has (the admission taint of a new node stays until the node reports).
    """
    statuses = {c.get("type"): c.get("status") for c in _conditions(node)}
    wanted = [(key, NO_SCHEDULE) for (kind, status), key in CONDITION_TAINTS.items() if statuses.get(kind) == status]
    ready = statuses.get(READY)
    if ready in ("False", "Unknown"):
        wanted.append((NOT_READY if ready == "False" else UNREACHABLE, NO_EXECUTE))
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append((UNSCHEDULABLE, NO_SCHEDULE))
    managed = MANAGED_TAINTS if ready is not None else MANAGED_TAINTS - _READY_TAINTS
    current = [dict(t) for t in node_taints(node)]
    kept = [t for t in current if (pair := (t.get("key"), t.get("effect"))) not in managed or pair in wanted]
    present = {(t.get("key"), t.get("effect")) for t in kept}
    added = [_taint(key, effect, now) for key, effect in wanted if (key, effect) not in present]
    new = kept + added
    return None if new == current else new


def pod_not_ready(pod: Obj, now: datetime) -> dict[str, Any] | None:
    """The pod's status with its Ready condition False, or None if it has none or it is False already.

    Only the condition changes (with a new ``lastTransitionTime``); the phase stays, as upstream's
    ``MarkPodsNotReady`` does.
    """
    status = dict(pod.get("status") or {})
    conditions = [dict(c) for c in status.get("conditions") or []]
    ready = next((c for c in conditions if c.get("type") == READY), None)
    if ready is None or ready.get("status") == "False":
        return None
    ready.update(status="False", lastTransitionTime=rfc3339(now))
    status["conditions"] = conditions
    return status


# ---- taint-based eviction (§5.4) -------------------------------------------------------------

TimedTaint = tuple[Taint, datetime]  # a NoExecute taint and when its eviction clock started


def noexecute_taints(node: Obj, previous: Sequence[TimedTaint], now: datetime) -> tuple[TimedTaint, ...]:
    """The node's NoExecute taints, each with its start: ``timeAdded``, else when first seen (``previous``)."""
    seen = {_taint_id(taint): since for taint, since in previous}
    timed = []
    for taint in node_taints(node):
        if taint.get("effect") == NO_EXECUTE:
            started = seen.get(_taint_id(taint), now)
            timed.append((taint, _time(taint.get("timeAdded"), started)))
    return tuple(timed)


def eviction_time(pod: Obj, taints: Sequence[TimedTaint]) -> datetime | None:
    """When taint-based eviction deletes the pod; None: never (tolerates every NoExecute taint for ever).

    An untolerated taint evicts at once (the returned time is its start, never in the future); a
    tolerated one after the first matching toleration's ``tolerationSeconds`` (≤ 0: at once; unset:
    never), counted from the taint's start. Terminating pods are left alone.
    """
    if is_terminating(pod):
        return None
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    times = []
    for taint, started in taints:
        toleration = next((t for t in tolerations if tolerates(t, taint)), None)
        if toleration is None:
            times.append(started)
        elif isinstance(seconds := toleration.get("tolerationSeconds"), int):
            times.append(started + timedelta(seconds=max(seconds, 0)))
    return min(times, default=None)


def evicted_status(pod: Obj, now: datetime) -> dict[str, Any]:
    """The status an evicted pod gets before its deletion: ``DisruptionTarget`` by the taint manager."""
    return _with_disruption(pod, now, "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")


# ---- pod GC (§5.5) -----------------------------------------------------------------------------


def orphan_status(pod: Obj, now: datetime) -> dict[str, Any]:
    """The status a pod whose node is gone gets before its forced deletion: Failed unless terminal."""
    status = _with_disruption(pod, now, "DeletionByPodGC", "PodGC: node no longer exists")
    if not is_terminal(pod):
        status["phase"] = "Failed"
    return status


def gc_time(pod: Obj, node_missing_since: datetime | None, now: datetime, quarantine: timedelta) -> datetime | None:
    """When pod GC force-deletes the pod (grace 0), or None: never while things stay as they are.

    An unscheduled terminating pod goes at once; a pod bound to a node that has been missing since
    ``node_missing_since`` (None: the node exists) goes once the quarantine has passed.
    """
    if not (pod.get("spec") or {}).get("nodeName"):
        return now if is_terminating(pod) else None
    return None if node_missing_since is None else node_missing_since + quarantine


# ---- helpers -----------------------------------------------------------------------------------


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _conditions(node: Obj) -> list[Obj]:
    return [c for c in (node.get("status") or {}).get("conditions") or [] if isinstance(c, Mapping)]


def _condition(node: Obj, kind: str) -> Obj | None:
    return next((c for c in _conditions(node) if c.get("type") == kind), None)


def _time(text: Any, default: datetime) -> datetime:
    if not isinstance(text, str) or not text:
        return default
    try:
        return parse_time(text)
    except ValueError:
        return default


def _taint(key: str, effect: str, now: datetime) -> dict[str, Any]:
    taint = {"key": key, "effect": effect}
    if effect == NO_EXECUTE:
        taint["timeAdded"] = rfc3339(now)
    return taint


def _taint_id(taint: Taint) -> tuple[Any, Any, Any]:
    return taint.get("key"), taint.get("value"), taint.get("effect")


def _with_disruption(pod: Obj, now: datetime, reason: str, message: str) -> dict[str, Any]:
    """The pod's status with a ``DisruptionTarget`` condition (one already there for ``reason`` stays as is)."""
    status = dict(pod.get("status") or {})
    conditions = list(status.get("conditions") or [])
    if any(c.get("type") == "DisruptionTarget" and c.get("reason") == reason for c in conditions):
        return status
    conditions = [c for c in conditions if c.get("type") != "DisruptionTarget"]
    target = {"type": "DisruptionTarget", "status": "True", "reason": reason, "message": message}
    conditions.append(target | {"lastTransitionTime": rfc3339(now)})
    status["conditions"] = conditions
    return status
