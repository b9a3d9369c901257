"""The per-node reconcile, pod construction, failed pods and claiming (§1.4–1.6, §4.1, §5.7)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from miniplane.controllers.daemonset import events
from miniplane.controllers.daemonset.backoff import Backoff, backoff_key, next_backoff, prune_backoff
from miniplane.controllers.daemonset.build import new_pod
from miniplane.controllers.daemonset.plan import compute_plan
from tests.unit.controllers.daemonset.builders import T0, make_ds, make_node, make_pod

NOW = T0 + timedelta(minutes=10)
NO_SCHEDULE = [{"key": "x", "value": "y", "effect": "NoSchedule"}]
NO_EXECUTE = [{"key": "x", "value": "y", "effect": "NoExecute"}]
SURGE = {"max_unavailable": 0, "max_surge": 1}
LATER = T0 + timedelta(seconds=2)


def counts(ds: dict[str, Any], nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> tuple[Any, Any]:
    plan = compute_plan(ds, nodes, pods, "h1", NOW)
    return plan.create_on, plan.delete


@pytest.mark.parametrize(
    ("nodes", "pods", "ds_args", "expected"),
    [
        ([make_node("n1"), make_node("n2")], [], {}, (("n1", "n2"), ())),
        ([make_node("n1")], [make_pod("a", "n1", hash_="h1")], {}, ((), ())),
        ([make_node("n1")], [make_pod("a", "n1")], {"nodeSelector": {"disk": "ssd"}}, ((), ("a",))),
        ([make_node("n1", taints=NO_SCHEDULE)], [make_pod("a", "n1")], {}, ((), ())),
        ([make_node("n1", taints=NO_SCHEDULE)], [], {}, ((), ())),
        ([make_node("n1", taints=NO_EXECUTE)], [make_pod("a", "n1")], {}, ((), ("a",))),
        ([make_node("n1", taints=NO_EXECUTE)], [make_pod("a", "n1", deleting=True)], {}, ((), ())),
        (
            [make_node("n1")],
            [make_pod("b", "n1", created=T0 + timedelta(seconds=1)), make_pod("a", "n1", created=LATER)],
            {},
            ((), ("a",)),
        ),
        ([make_node("n1")], [make_pod("a", "n1", bound=False), make_pod("b", "n1")], {}, ((), ("a",))),
        ([make_node("n1")], [make_pod("a", "n1", deleting=True)], {}, ((), ())),
        ([make_node("n1")], [make_pod("a", "n1", deleting=True)], SURGE, (("n1",), ())),
        ([make_node("n1")], [make_pod("a", "n1", deleting=True, phase="Failed")], {}, (("n1",), ())),
        ([make_node("n1")], [make_pod("a", "n1", phase="Succeeded")], {}, ((), ("a",))),
        ([make_node("n1")], [make_pod("a", "gone", bound=False)], {}, (("n1",), ("a",))),
        ([make_node("n1")], [make_pod("a", "gone")], {}, (("n1",), ())),
        ([make_node("n1")], [make_pod("a", "gone", bound=False, deleting=True)], {}, (("n1",), ())),
    ],
    ids=[
        "a pod per matching node",
        "node already has its pod",
        "label no longer matches: pod deleted",
        "untolerated NoSchedule keeps the pod",
        "untolerated NoSchedule gets no new pod",
        "untolerated NoExecute deletes the pod",
        "terminating pods are not deleted again",
        "duplicates: the oldest stays",
        "duplicates: bound pods count as older",
        "no replacement while the old pod terminates",
        "with surge a terminating pod is replaced at once",
        "a terminal pod with deletionTimestamp no longer occupies the node",
        "succeeded pods are deleted",
        "unbound pod aimed at a missing node is deleted",
        "bound pod on a missing node is left to pod GC",
        "terminating unbound pod on a missing node is not deleted again",
    ],
)
def test_manage(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]], ds_args: dict[str, Any], expected: tuple[Any, Any]
) -> None:
    strategy = "RollingUpdate" if "max_surge" in ds_args else "OnDelete"
    assert counts(make_ds(strategy=strategy, **ds_args), nodes, pods) == expected


def test_created_pod_body() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}],
        },
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []},
    }
    ds = make_ds(generation=2, nodeSelector={"disk": "ssd"}, affinity=affinity, tolerations=[{"operator": "Exists"}])
    ds["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    plan = compute_plan(ds, [make_node("n3", {"disk": "ssd"})], [], "7b9c6d5f4", NOW)
    (pod,) = plan.new_pods
    assert plan.create_on == ("n3",)
    assert pod["metadata"] == {
        "generateName": "agent-",
        "namespace": "default",
        "labels": {"app": "agent", "pod-template-generation": "2", "controller-revision-hash": "7b9c6d5f4"},
        "annotations": {"a": "b"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": "agent",
                "uid": "uid-ds",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    spec = pod["spec"]
    assert "nodeName" not in spec and spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n3"]}]}]
    }
    assert spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {"weight": 1, "preference": {}}
    ]
    assert spec["affinity"]["podAntiAffinity"] == affinity["podAntiAffinity"]
    assert spec["tolerations"][0] == {"operator": "Exists"}
    keys = [t["key"] for t in spec["tolerations"][1:3]]
    assert keys == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    assert ds["spec"]["template"]["spec"]["tolerations"] == [{"operator": "Exists"}]  # the DS is not touched


def test_failed_pods_back_off_per_node() -> None:
    ds = make_ds()
    nodes = [make_node("n1")]
    failed = [make_pod("f1", "n1", phase="Failed", hash_="h1")]
    key = backoff_key(ds, "n1")
    first = compute_plan(ds, nodes, failed, "h1", NOW)
    assert first.delete == ("f1",)
    assert [(e.type, e.reason, e.message) for e in first.events] == [
        ("Warning", "FailedDaemonPod", "Found failed daemon pod default/f1 on node n1, will try to kill it")
    ]
    assert first.backoff == {key: Backoff(timedelta(seconds=1), NOW)}
    again = [make_pod("f2", "n1", phase="Failed", hash_="h1")]
    throttled = compute_plan(ds, nodes, again, "h1", NOW + timedelta(milliseconds=400), first.backoff)
    assert throttled.delete == () and throttled.create_on == ()
    assert throttled.requeue_after == pytest.approx(0.6)
    later = compute_plan(ds, nodes, again, "h1", NOW + timedelta(seconds=1), first.backoff)
    assert later.delete == ("f2",)
    assert later.backoff[key].delay == timedelta(seconds=2)
    ds["status"]["observedGeneration"] = 2
    assert compute_plan(ds, nodes, again, "h1", NOW, first.backoff).delete == ("f2",)


def test_old_failed_pod_is_replaced_by_the_rollout_despite_back_off() -> None:
    ds = make_ds()
    entries = {backoff_key(ds, "n1"): Backoff(timedelta(seconds=8), NOW)}
    plan = compute_plan(ds, [make_node("n1")], [make_pod("f", "n1", phase="Failed", hash_="h0")], "h1", NOW, entries)
    assert plan.delete == ("f",) and plan.events == ()


def test_back_off_caps_and_goes_stale() -> None:
    entries = {"k": Backoff(timedelta(minutes=15), T0)}
    assert prune_backoff(entries, T0 + timedelta(minutes=30)) == entries
    assert prune_backoff(entries, T0 + timedelta(minutes=31)) == {}


def test_succeeded_pod_event_and_no_back_off() -> None:
    plan = compute_plan(make_ds(), [make_node("n1")], [make_pod("s", "n1", phase="Succeeded")], "h1", NOW)
    assert plan.delete == ("s",) and plan.backoff == {}
    assert plan.events[0].message == "Found succeeded daemon pod default/s on node n1, will try to delete it"


def test_claiming() -> None:
    orphan = make_pod("orphan", "n1", owned=False, hash_="h1")
    stray = make_pod("stray", "n2", labels={"app": "other"})
    foreign = make_pod("foreign", "n3", hash_="h1")
    foreign["metadata"]["ownerReferences"][0]["uid"] = "other-ds"
    dying_orphan = make_pod("dying", "n4", owned=False, deleting=True)
    nodes = [make_node(f"n{i}") for i in range(1, 5)]
    plan = compute_plan(make_ds(), nodes, [orphan, stray, foreign, dying_orphan], "h1", NOW)
    assert plan.adopt == ("orphan",)
    assert plan.release == ("stray",)
    assert plan.create_on == ("n2", "n3", "n4")
    assert plan.delete == ()


def test_deleting_or_select_all_daemonsets_do_nothing() -> None:
    ds = make_ds()
    ds["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert compute_plan(ds, [make_node("n1")], [make_pod("a", "n1")], "h1", NOW).status is None
    everything = make_ds()
    everything["spec"]["selector"] = {}
    plan = compute_plan(everything, [make_node("n1")], [], "h1", NOW)
    assert plan.create_on == () and [e.reason for e in plan.events] == ["SelectingAll"]
    assert plan.events[0].message == "This daemon set is selecting all pods. A non-empty selector is required."


def test_requeue_when_a_ready_pod_turns_available() -> None:
    ds = make_ds(min_ready=15)
    pod = make_pod("a", "n1", hash_="h1", ready=True, ready_since=NOW - timedelta(seconds=5))
    plan = compute_plan(ds, [make_node("n1")], [pod], "h1", NOW)
    assert plan.requeue_after == pytest.approx(11.0)
    assert compute_plan(make_ds(), [make_node("n1")], [pod], "h1", NOW).requeue_after is None


@pytest.mark.parametrize(
    ("old_ready", "new_ready", "deleted"),
    [(True, False, ()), (False, False, ("old",)), (True, True, ("old",))],
    ids=["old ready, new not: keep both", "old not ready: delete it", "new available: delete the old one"],
)
def test_surge_keeps_one_old_and_one_new(old_ready: bool, new_ready: bool, deleted: tuple[str, ...]) -> None:
    ds = make_ds(max_unavailable=0, max_surge=1)
    pods = [
        make_pod("old", "n1", hash_="h0", ready=old_ready),
        make_pod("new", "n1", hash_="h1", ready=new_ready, created=T0 + timedelta(seconds=1)),
        make_pod("new2", "n1", hash_="h1", created=T0 + timedelta(seconds=2)),
    ]
    plan = compute_plan(ds, [make_node("n1")], pods, "h1", NOW)
    assert set(plan.delete) == {"new2", *deleted}


def test_back_off_doubles_up_to_the_cap() -> None:
    entry = next_backoff(None, T0)
    delays = []
    for i in range(12):
        entry = next_backoff(entry, T0 + timedelta(seconds=i))
        delays.append(entry.delay.total_seconds())
    assert delays[:4] == [2, 4, 8, 16] and delays[-1] == 900


def test_outcome_event_messages() -> None:
    assert events.created("agent-x1b2c") == events.Event("Normal", "SuccessfulCreate", "Created pod: agent-x1b2c")
    assert events.deleted("p").message == "Deleted pod: p"
    assert events.failed_create("boom") == events.Event("Warning", "FailedCreate", "Error creating: boom")
    assert events.failed_delete("boom").message == "Error deleting: boom"


def test_planned_bodies_equal_new_pod_for_each_node() -> None:
    """``new_pods`` builds each body on access from a per-DaemonSet factory; it must equal ``new_pod``."""
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}],
        },
    }
    ds = make_ds(generation=3, affinity=affinity, tolerations=[{"key": "a", "operator": "Exists"}])
    nodes = [make_node(n, {"disk": "ssd"}) for n in ("n1", "n2", "n3")]
    plan = compute_plan(ds, nodes, [], "h1", NOW)
    assert plan.create_on == ("n1", "n2", "n3")
    bodies = list(plan.new_pods)
    assert bodies == [new_pod(ds, n, "h1") for n in plan.create_on]
    assert plan.new_pods[1:] == bodies[1:]
    bodies[0]["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"].clear()
    assert plan.new_pods[0] == new_pod(ds, "n1", "h1")  # each read is a fresh copy
