"""RollingUpdate and OnDelete (§3.3–3.6, §3.8), replayed sync by sync on an in-memory cluster."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from miniplane.controllers.daemonset.podutil import HASH_LABEL
from miniplane.controllers.daemonset.rollout import rolling_update, scaled
from miniplane.controllers.daemonset.status import compute_status
from tests.unit.controllers.daemonset.builders import T0, Cluster, make_ds, make_node, make_pod, mark_ready


def cluster(n: int = 5, **ds_args: Any) -> Cluster:
    c = Cluster(make_ds(**ds_args), [make_node(f"n{i}") for i in range(n)])
    c.settle()
    c.ready_all()
    return c


def step(c: Cluster) -> tuple[int, int]:
    plan = c.sync()
    return len(plan.create_on), len(plan.delete)


@pytest.mark.parametrize(
    ("value", "total", "expected"),
    [(2, 5, 2), ("10%", 5, 1), ("25%", 10, 3), ("20%", 3, 1), ("0%", 7, 0), ("100%", 7, 7), ("x", 3, 0), (None, 3, 0)],
    ids=["int", "10% of 5 rounds up", "25% of 10", "20% of 3", "0%", "100%", "garbage", "unset"],
)
def test_budget_rounds_up(value: int | str | None, total: int, expected: int) -> None:
    assert scaled(value, total) == expected


def test_max_unavailable_two_on_five_nodes() -> None:
    c = cluster(max_unavailable=2)
    c.update_template(image="busybox:2")
    steps = []
    for _ in range(3):
        steps += [step(c), step(c)]
        assert step(c) == (0, 0)  # waits for readiness
        c.ready_all()
    assert steps == [(0, 2), (2, 0), (0, 2), (2, 0), (0, 1), (1, 0)]
    assert step(c) == (0, 0)
    status = compute_status(c.ds, c.nodes, c.pods, c.hash, c.now)
    assert (status.updated_number_scheduled, status.number_available) == (5, 5)


def test_percentage_budget() -> None:
    c = cluster(10, max_unavailable="25%")
    c.update_template(image="busybox:2")
    assert step(c) == (0, 3)


def test_unavailable_old_pods_are_replaced_outside_the_budget() -> None:
    c = Cluster(make_ds(max_unavailable=3), [make_node(f"n{i}") for i in range(5)])
    c.settle()  # never Ready
    c.update_template(image="busybox:2")
    assert step(c) == (0, 5)
    assert step(c) == (5, 0)
    assert step(c) == (0, 0)


@pytest.mark.parametrize(("budget", "deleted"), [(1, 1), (2, 2), (3, 3)])
def test_unavailable_old_pod_is_deleted_first_and_consumes_budget(budget: int, deleted: int) -> None:
    c = cluster(4, max_unavailable=budget)
    broken = c.pods[0]["metadata"]["name"]
    mark_ready(c.pods[0], c.now, ready=False)
    c.update_template(image="busybox:2")
    plan = c.sync()
    assert broken in plan.delete and len(plan.delete) == deleted


def test_strategy_change_alone_deletes_nothing() -> None:
    c = cluster(max_unavailable=3)
    c.ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = 3
    c.ds["metadata"]["generation"] += 1
    assert step(c) == (0, 0)


def test_min_ready_seconds_delays_availability() -> None:
    c = cluster(3, max_unavailable=1, min_ready=15)
    c.now = T0 + timedelta(seconds=290)
    c.update_template(image="busybox:2")
    assert [step(c), step(c)] == [(0, 1), (1, 0)]
    c.now = T0 + timedelta(seconds=300)
    c.ready_all()
    c.now = T0 + timedelta(seconds=310)
    plan = c.sync()
    assert (plan.create_on, plan.delete) == ((), ())  # the new pod is Ready but not yet available
    assert plan.requeue_after == pytest.approx(6.0)
    c.now = T0 + timedelta(seconds=315)
    assert step(c) == (0, 0)  # strictly after lastTransitionTime + minReadySeconds
    c.now = T0 + timedelta(seconds=320)
    assert step(c) == (0, 1)


def test_old_available_pod_on_a_misscheduled_node_is_a_candidate() -> None:
    ds = make_ds(max_unavailable=1)
    pods = {"n1": [make_pod("a", "n1", hash_="h0", ready=True)]}
    plan = rolling_update(ds, {"n1": False}, pods, "h1", T0 + timedelta(minutes=1))
    assert plan.delete == ("a",)


def test_broken_template_stalls_and_a_fix_replaces_broken_pods_at_once() -> None:
    c = cluster(5, max_unavailable=2)
    c.update_template(image="broken")
    assert c.settle() == 2  # delete 2, create 2, then stuck
    status = compute_status(c.ds, c.nodes, c.pods, c.hash, c.now)
    assert status.updated_number_scheduled == 2
    c.update_template(image="fixed")
    assert step(c) == (0, 2)  # the broken pods are old and unavailable


def test_rollback_restarts_only_the_broken_pods() -> None:
    c = cluster(5, max_unavailable=2)
    good_hash = c.hash
    c.update_template(image="broken")
    c.settle()
    untouched = {p["metadata"]["name"] for p in c.pods if p["metadata"]["labels"][HASH_LABEL] == good_hash}
    assert len(untouched) == 3
    c.update_template(image="busybox:1")
    plan = c.sync()
    assert c.hash == good_hash
    assert len(c.revisions) == 2
    assert sorted(r["revision"] for r in c.revisions) == [2, 3]
    assert set(plan.delete).isdisjoint(untouched) and len(plan.delete) == 2
    c.settle()
    assert untouched <= {p["metadata"]["name"] for p in c.pods}
    assert c.by_hash() == {good_hash: 5}


def test_surge_two_on_five_nodes() -> None:
    c = cluster(max_unavailable=0, max_surge=2)
    c.update_template(image="busybox:2")
    seen = []
    for _ in range(4):
        seen.append(step(c))
        assert step(c) == (0, 0)
        c.ready_all()
    assert seen == [(2, 0), (2, 2), (1, 2), (0, 1)]
    assert c.by_hash() == {c.hash: 5}


def test_surge_with_unready_old_pods_and_min_ready_seconds() -> None:
    """Kubernetes' TestDaemonSetUpdatesAllOldPodsNotReadyMaxSurge, step by step."""
    c = Cluster(make_ds(max_unavailable=0, max_surge=3), [make_node(f"n{i}") for i in range(5)])
    c.settle()
    c.update_template(image="busybox:2")
    c.now = T0 + timedelta(seconds=100)
    assert step(c) == (5, 0)
    c.now = T0 + timedelta(seconds=200)
    assert step(c) == (0, 5)
    c.ready_all()
    c.ds["spec"]["minReadySeconds"] = 15
    c.update_template(image="busybox:3")
    c.now = T0 + timedelta(seconds=300)
    assert step(c) == (3, 0)
    new = [p for p in c.pods if p["metadata"]["labels"][HASH_LABEL] == c.hash]
    for pod in new[:2]:
        mark_ready(pod, c.now)
    surged = {p["spec"]["nodeName"] for p in new}
    lone_old = next(p for p in c.pods if p["spec"]["nodeName"] not in surged)
    mark_ready(lone_old, c.now, ready=False)
    c.now = T0 + timedelta(seconds=310)
    assert step(c) == (1, 0)
    c.now = T0 + timedelta(seconds=320)
    assert step(c) == (1, 3)
    for pod in c.pods:
        if pod["metadata"]["labels"][HASH_LABEL] == c.hash and pod["status"].get("conditions") is None:
            mark_ready(pod, c.now)
    c.now = T0 + timedelta(seconds=340)
    assert step(c) == (0, 2)
    c.now = T0 + timedelta(seconds=350)
    assert step(c) == (0, 0)


def test_surge_sunsets_old_pods_only_while_availability_stays_full() -> None:
    """A toleration removed from the template: n1 keeps its pod (NoSchedule) until n2 has one."""
    ds = make_ds(max_unavailable=0, max_surge=1)
    should_run = {"n1": False, "n2": True}
    old = make_pod("a", "n1", hash_="h0", ready=True)
    now = T0 + timedelta(minutes=1)
    assert rolling_update(ds, should_run, {"n1": [old]}, "h1", now).delete == ()
    pending = make_pod("b", "n2", hash_="h1")
    assert rolling_update(ds, should_run, {"n1": [old], "n2": [pending]}, "h1", now).delete == ()
    mark_ready(pending, T0)
    assert rolling_update(ds, should_run, {"n1": [old], "n2": [pending]}, "h1", now).delete == ("a",)


def test_surge_unavailable_old_pod_on_a_node_that_stopped_matching_is_deleted() -> None:
    ds = make_ds(max_unavailable=0, max_surge=1)
    plan = rolling_update(ds, {"n1": False}, {"n1": [make_pod("a", "n1", hash_="h0")]}, "h1", T0)
    assert (plan.create_on, plan.delete) == ((), ("a",))


def test_surge_step_fails_when_a_pod_node_is_gone() -> None:
    ds = make_ds(max_unavailable=0, max_surge=1)
    by_node = {"gone": [make_pod("a", "gone", hash_="h0", ready=True)], "n1": [make_pod("b", "n1", hash_="h0")]}
    plan = rolling_update(ds, {"n1": True}, by_node, "h1", T0)
    assert (plan.create_on, plan.delete) == ((), ())


def test_on_delete_never_replaces_live_pods() -> None:
    c = cluster(3, strategy="OnDelete")
    first_hash = c.hash
    c.update_template(image="busybox:2")
    assert c.settle() == 0
    assert c.by_hash() == {first_hash: 3}
    c.pods.pop()
    assert step(c) == (1, 0)
    assert c.by_hash() == {first_hash: 2, c.hash: 1}
    assert compute_status(c.ds, c.nodes, c.pods, c.hash, c.now).updated_number_scheduled == 1
