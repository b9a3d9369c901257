"""Plain-dict nodes and pods for the node lifecycle tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from miniplane.timeutil import rfc3339

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GRACE = timedelta(seconds=50)
STARTUP_GRACE = timedelta(seconds=60)

NOT_READY_NS = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
# What the DefaultTolerationSeconds admission plugin gives ordinary pods.
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def condition(kind: str, status: str, heartbeat: datetime = T0) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "lastHeartbeatTime": rfc3339(heartbeat),
        "lastTransitionTime": rfc3339(heartbeat - timedelta(hours=1)),
        "reason": f"Kubelet{kind}{status}",
        "message": "posted by the agent",
    }


def make_node(
    ready: str | None = "True",
    heartbeat: datetime = T0,
    *,
    others: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
    created: datetime = T0 - timedelta(days=1),
) -> dict[str, Any]:
    """A node whose agent posted ``ready`` (None: never posted) and the ``others`` conditions at ``heartbeat``."""
    conditions = [condition(kind, status, heartbeat) for kind, status in (others or {}).items()]
    if ready is not None:
        conditions.insert(0, condition("Ready", ready, heartbeat))
    spec: dict[str, Any] = {}
    if taints is not None:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1", "uid": "uid-n1", "creationTimestamp": rfc3339(created)},
        "spec": spec,
        "status": {"conditions": conditions},
    }


def make_pod(
    *,
    node: str = "n1",
    ready: str | None = "True",
    phase: str = "Running",
    tolerations: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p1", "namespace": "default", "uid": "uid-p1"}
    if deleting:
        meta["deletionTimestamp"] = rfc3339(T0)
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}], "tolerations": tolerations or []}
    if node:
        spec["nodeName"] = node
    conditions = []
    if ready is not None:
        conditions = [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": ready, "lastTransitionTime": rfc3339(T0 - timedelta(hours=1))},
            {"type": "ContainersReady", "status": ready},
        ]
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "conditions": conditions}}
