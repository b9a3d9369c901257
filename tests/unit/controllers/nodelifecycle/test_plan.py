"""The node lifecycle decisions (§5.2): heartbeat deadlines, Unknown conditions, condition taints."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from miniplane.controllers.nodelifecycle.plan import (
    desired_taints,
    lease_renew_time,
    plan_node,
    pod_not_ready,
)
from miniplane.timeutil import rfc3339, rfc3339_micro
from tests.unit.controllers.nodelifecycle.builders import (
    GRACE,
    NOT_READY_NS,
    STARTUP_GRACE,
    T0,
    make_node,
    make_pod,
)

NOW = T0 + timedelta(seconds=5)
ADDED = rfc3339(NOW)
K = "node.kubernetes.io/"


def keys(taints: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [(t["key"].removeprefix(K), t["effect"]) for t in taints or []]


def plan(node: dict[str, Any], now: Any = NOW, lease: Any = None, first_seen: Any = T0 - timedelta(days=1)) -> Any:
    return plan_node(node, lease, first_seen, now, GRACE, STARTUP_GRACE)


# ---- the §5.2 taint table, row by row -------------------------------------------------------------

TAINT_TABLE = [
    ("just created: admission taint kept", make_node(None, taints=[NOT_READY_NS]), [("not-ready", "NoSchedule")]),
    ("no Ready condition: nothing added", make_node(None), []),
    ("Ready=False", make_node("False"), [("not-ready", "NoSchedule"), ("not-ready", "NoExecute")]),
    ("Ready=Unknown", make_node("Unknown"), [("unreachable", "NoSchedule"), ("unreachable", "NoExecute")]),
    ("Ready=True drops the admission taint", make_node("True", taints=[NOT_READY_NS]), []),
    ("MemoryPressure", make_node(others={"MemoryPressure": "True"}), [("memory-pressure", "NoSchedule")]),
    ("DiskPressure", make_node(others={"DiskPressure": "True"}), [("disk-pressure", "NoSchedule")]),
    ("PIDPressure", make_node(others={"PIDPressure": "True"}), [("pid-pressure", "NoSchedule")]),
    ("NetworkUnavailable", make_node(others={"NetworkUnavailable": "True"}), [("network-unavailable", "NoSchedule")]),
    ("pressure False: no taint", make_node(others={"MemoryPressure": "False", "DiskPressure": "False"}), []),
    ("cordoned", make_node(unschedulable=True), [("unschedulable", "NoSchedule")]),
    (
        "cordoned and unreachable",
        make_node("Unknown", unschedulable=True),
        [("unreachable", "NoSchedule"), ("unreachable", "NoExecute"), ("unschedulable", "NoSchedule")],
    ),
]


@pytest.mark.parametrize(("node", "expected"), [row[1:] for row in TAINT_TABLE], ids=[row[0] for row in TAINT_TABLE])
def test_taint_table(node: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    taints = desired_taints(node, NOW)
    assert keys(node["spec"].get("taints") if taints is None else taints) == expected


def test_noexecute_taints_carry_time_added_and_noschedule_ones_do_not() -> None:
    taints = desired_taints(make_node("False"), NOW)
    assert taints == [
        {"key": K + "not-ready", "effect": "NoSchedule"},
        {"key": K + "not-ready", "effect": "NoExecute", "timeAdded": ADDED},
    ]


def test_taints_already_right_give_none_and_keep_their_time_added() -> None:
    old = {"key": K + "unreachable", "effect": "NoExecute", "timeAdded": rfc3339(T0)}
    node = make_node("Unknown", taints=[{"key": K + "unreachable", "effect": "NoSchedule"}, old])
    assert desired_taints(node, NOW) is None


def test_other_taints_keep_their_place() -> None:
    user = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, {"key": "x", "effect": "NoExecute"}]
    node = make_node("False", taints=[user[0], {"key": K + "unreachable", "effect": "NoSchedule"}, user[1]])
    assert keys(desired_taints(node, NOW)) == [
        ("dedicated", "NoSchedule"),
        ("x", "NoExecute"),
        ("not-ready", "NoSchedule"),
        ("not-ready", "NoExecute"),
    ]


def test_a_managed_key_with_another_effect_is_not_managed() -> None:
    custom = {"key": K + "memory-pressure", "effect": "NoExecute"}
    assert desired_taints(make_node(taints=[custom]), NOW) is None


def test_uncordon_and_recovery_remove_every_condition_taint() -> None:
    node = make_node(
        "True",
        taints=[
            {"key": K + "unschedulable", "effect": "NoSchedule"},
            {"key": K + "unreachable", "effect": "NoSchedule"},
            {"key": K + "unreachable", "effect": "NoExecute", "timeAdded": rfc3339(T0)},
            {"key": K + "disk-pressure", "effect": "NoSchedule"},
        ],
    )
    assert desired_taints(node, NOW) == []


def test_not_ready_turning_unreachable_swaps_the_taints_with_a_new_time_added() -> None:
    old = [
        {"key": K + "not-ready", "effect": "NoSchedule"},
        {"key": K + "not-ready", "effect": "NoExecute", "timeAdded": rfc3339(T0)},
    ]
    taints = desired_taints(make_node("Unknown", taints=old), NOW)
    assert taints == [
        {"key": K + "unreachable", "effect": "NoSchedule"},
        {"key": K + "unreachable", "effect": "NoExecute", "timeAdded": ADDED},
    ]


# ---- heartbeats and the grace period -------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "healthy"),
    [(timedelta(0), True), (GRACE - timedelta(milliseconds=1), True), (GRACE, False), (GRACE * 2, False)],
    ids=["fresh", "just inside", "at the grace period", "long gone"],
)
def test_grace_period_boundary(age: timedelta, healthy: bool) -> None:
    result = plan(make_node("True", heartbeat=T0), now=T0 + age)
    assert (result.conditions is None) == healthy
    assert result.recheck_at == (T0 + GRACE if healthy else None)


def test_a_renewed_lease_keeps_a_node_with_an_old_heartbeat_healthy() -> None:
    lease = T0 + timedelta(seconds=40)
    result = plan(make_node("True", heartbeat=T0), now=T0 + timedelta(seconds=60), lease=lease)
    assert result.conditions is None
    assert result.recheck_at == lease + GRACE


def test_the_first_sighting_counts_as_a_heartbeat() -> None:
    seen = T0 + timedelta(minutes=10)
    result = plan(make_node("True", heartbeat=T0), now=seen + timedelta(seconds=1), first_seen=seen)
    assert result.conditions is None and result.recheck_at == seen + GRACE


def test_overdue_node_goes_unknown() -> None:
    node = make_node("True", others={"MemoryPressure": "False", "NetworkUnavailable": "False"})
    now = T0 + GRACE + timedelta(seconds=3)
    result = plan(node, now=now)
    by_type = {c["type"]: c for c in result.conditions}
    for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        assert by_type[kind]["status"] == "Unknown"
        assert by_type[kind]["lastTransitionTime"] == rfc3339(now)
    ready = by_type["Ready"]
    assert ready["reason"] == "NodeStatusUnknown"
    assert ready["message"] == "Kubelet stopped posting node status."
    assert ready["lastHeartbeatTime"] == rfc3339(T0)
    assert by_type["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"  # the agent never posted that one
    assert by_type["NetworkUnavailable"]["status"] == "False"  # not the controller's to change
    assert keys(result.taints) == [("unreachable", "NoSchedule"), ("unreachable", "NoExecute")]
    assert result.lost and result.recheck_at is None


@pytest.mark.parametrize("ready", ["True", "False"])
def test_losing_a_reporting_node_is_reported(ready: str) -> None:
    assert plan(make_node(ready), now=T0 + GRACE * 2).lost


def test_an_unknown_node_stays_as_it_is() -> None:
    pressure = {"MemoryPressure": "Unknown", "DiskPressure": "Unknown", "PIDPressure": "Unknown"}
    node = make_node("Unknown", others=pressure, taints=desired_taints(make_node("Unknown"), T0))
    result = plan(node, now=T0 + GRACE * 2)
    assert result.conditions is None and result.taints is None and not result.lost


# ---- startup grace ---------------------------------------------------------------------------------


def test_a_node_that_never_reported_gets_the_startup_grace_period() -> None:
    node = make_node(None, taints=[NOT_READY_NS], created=T0)
    early = plan(node, now=T0 + STARTUP_GRACE - timedelta(seconds=1))
    assert early.conditions is None and early.taints is None
    assert early.recheck_at == T0 + STARTUP_GRACE
    late = plan(node, now=T0 + STARTUP_GRACE)
    ready = next(c for c in late.conditions if c["type"] == "Ready")
    assert ready["reason"] == "NodeStatusNeverUpdated"
    assert ready["message"] == "Kubelet never posted node status."
    assert ready["lastHeartbeatTime"] == rfc3339(T0)
    assert len(late.conditions) == 4
    assert keys(late.taints) == [("unreachable", "NoSchedule"), ("unreachable", "NoExecute")]
    assert not late.lost  # it never was ready


def test_a_lease_extends_the_startup_grace_period() -> None:
    node = make_node(None, created=T0)
    renewed = T0 + timedelta(seconds=30)
    result = plan(node, now=T0 + STARTUP_GRACE + timedelta(seconds=1), lease=renewed)
    assert result.conditions is None and result.recheck_at == renewed + STARTUP_GRACE


def test_lease_renew_time() -> None:
    when = T0 + timedelta(microseconds=123456)
    assert lease_renew_time({"spec": {"renewTime": rfc3339_micro(when)}}) == when
    assert lease_renew_time({"spec": {}}) is None
    assert lease_renew_time({"spec": {"renewTime": "yesterday"}}) is None


# ---- pods on a node that went Unknown -------------------------------------------------------------


def test_ready_pod_is_marked_not_ready_and_keeps_its_phase() -> None:
    pod = make_pod(ready="True")
    status = pod_not_ready(pod, NOW)
    assert status is not None and status["phase"] == "Running"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready == {"type": "Ready", "status": "False", "lastTransitionTime": rfc3339(NOW)}
    assert pod["status"]["conditions"][1]["status"] == "True"  # the input is not changed


@pytest.mark.parametrize("ready", ["False", None], ids=["not ready already", "no Ready condition"])
def test_pods_not_ready_already_are_left_alone(ready: str | None) -> None:
    assert pod_not_ready(make_pod(ready=ready), NOW) is None
