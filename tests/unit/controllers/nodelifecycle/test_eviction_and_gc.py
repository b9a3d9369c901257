"""Taint-based eviction (§5.4) and pod GC (§5.5) decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from miniplane.controllers.nodelifecycle.plan import (
    evicted_status,
    eviction_time,
    gc_time,
    noexecute_taints,
    orphan_status,
)
from miniplane.timeutil import rfc3339
from tests.unit.controllers.nodelifecycle.builders import DAEMON_TOLERATIONS, DEFAULT_TOLERATIONS, T0, make_pod

NOW = T0 + timedelta(minutes=1)
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": rfc3339(T0)}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": rfc3339(T0)}
CUSTOM = {"key": "maintenance", "value": "now", "effect": "NoExecute"}
QUARANTINE = timedelta(seconds=40)


def seconds(n: int) -> datetime:
    return T0 + timedelta(seconds=n)


EVICTION_TABLE: list[tuple[str, list[dict[str, Any]], list[tuple[dict[str, Any], datetime]], datetime | None]] = [
    ("no toleration: at once", [], [(UNREACHABLE, T0)], T0),
    ("default tolerations: 300 s after timeAdded", DEFAULT_TOLERATIONS, [(UNREACHABLE, T0)], seconds(300)),
    ("DaemonSet tolerations: never", DAEMON_TOLERATIONS, [(UNREACHABLE, T0), (NOT_READY, T0)], None),
    ("DaemonSet tolerations do not cover other taints", DAEMON_TOLERATIONS, [(CUSTOM, seconds(7))], seconds(7)),
    (
        "tolerationSeconds 0: at once",
        [{"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}],
        [(CUSTOM, T0)],
        T0,
    ),
    (
        "negative tolerationSeconds counts as 0",
        [{"key": "maintenance", "operator": "Exists", "tolerationSeconds": -5}],
        [(CUSTOM, T0)],
        T0,
    ),
    (
        "a NoSchedule toleration does not tolerate NoExecute",
        [{"key": "maintenance", "operator": "Exists", "effect": "NoSchedule"}],
        [(CUSTOM, T0)],
        T0,
    ),
    (
        "Equal needs the value",
        [{"key": "maintenance", "operator": "Equal", "value": "later", "effect": "NoExecute"}],
        [(CUSTOM, T0)],
        T0,
    ),
    ("an empty key with Exists tolerates all", [{"operator": "Exists"}], [(CUSTOM, T0), (UNREACHABLE, T0)], None),
    (
        "the earliest of several taints",
        [*DEFAULT_TOLERATIONS, {"key": "maintenance", "operator": "Exists", "tolerationSeconds": 60}],
        [(UNREACHABLE, T0), (CUSTOM, seconds(100))],
        seconds(160),
    ),
    (
        "the first matching toleration decides",
        [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 5},
        ],
        [(UNREACHABLE, T0)],
        None,
    ),
    ("no NoExecute taints: never", [], [], None),
]


@pytest.mark.parametrize(
    ("tolerations", "taints", "expected"), [r[1:] for r in EVICTION_TABLE], ids=[r[0] for r in EVICTION_TABLE]
)
def test_eviction_time(
    tolerations: list[dict[str, Any]], taints: list[tuple[dict[str, Any], datetime]], expected: datetime | None
) -> None:
    assert eviction_time(make_pod(tolerations=tolerations), taints) == expected


def test_terminating_pods_are_not_evicted_again() -> None:
    assert eviction_time(make_pod(deleting=True), [(UNREACHABLE, T0)]) is None


def test_noexecute_taints_start_at_time_added_else_when_first_seen() -> None:
    node = {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}, UNREACHABLE, CUSTOM]}}
    first = noexecute_taints(node, (), NOW)
    assert first == ((UNREACHABLE, T0), (CUSTOM, NOW))
    later = noexecute_taints(node, first, NOW + timedelta(minutes=5))
    assert later == first  # the custom taint's clock keeps running from its first sighting
    assert noexecute_taints({"spec": {}}, first, NOW) == ()


def test_evicted_pods_get_a_disruption_target() -> None:
    status = evicted_status(make_pod(), NOW)
    target = status["conditions"][-1]
    assert target == {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": rfc3339(NOW),
    }
    assert status["phase"] == "Running"


# ---- pod GC -------------------------------------------------------------------------------------------

GC_TABLE = [
    ("bound, node exists: never", make_pod(), None, None),
    ("bound, node missing: after the quarantine", make_pod(), T0, T0 + QUARANTINE),
    ("bound and terminating, node missing: after the quarantine", make_pod(deleting=True), T0, T0 + QUARANTINE),
    ("unbound and terminating: at once", make_pod(node="", deleting=True), None, NOW),
    ("unbound and pending: never", make_pod(node="", ready=None, phase="Pending"), None, None),
]


@pytest.mark.parametrize(("pod", "missing_since", "expected"), [r[1:] for r in GC_TABLE], ids=[r[0] for r in GC_TABLE])
def test_gc_time(pod: dict[str, Any], missing_since: datetime | None, expected: datetime | None) -> None:
    assert gc_time(pod, missing_since, NOW, QUARANTINE) == expected


@pytest.mark.parametrize(("phase", "after"), [("Running", "Failed"), ("Pending", "Failed"), ("Succeeded", "Succeeded")])
def test_orphans_are_failed_unless_terminal(phase: str, after: str) -> None:
    status = orphan_status(make_pod(phase=phase), NOW)
    assert status["phase"] == after
    target = status["conditions"][-1]
    assert (target["type"], target["reason"], target["message"]) == (
        "DisruptionTarget",
        "DeletionByPodGC",
        "PodGC: node no longer exists",
    )


def test_orphan_status_is_stable_once_written() -> None:
    pod = make_pod()
    pod["status"] = orphan_status(pod, NOW)
    assert orphan_status(pod, NOW + timedelta(seconds=9)) == pod["status"]
