"""Status counters (§2): nodes not pods, oldest pod per node, availability, write rules."""

from __future__ import annotations

from datetime import timedelta

from miniplane.controllers.daemonset.status import DaemonSetStatus, compute_status
from tests.unit.controllers.daemonset.builders import T0, make_ds, make_node, make_pod

NOW = T0 + timedelta(minutes=5)


def test_the_documented_example() -> None:
    nodes = [
        make_node("n1"),
        make_node("n2"),
        make_node("n3", taints=[{"key": "x", "value": "y", "effect": "NoSchedule"}]),
        make_node("n4"),
    ]
    pods = [
        make_pod("p1", "n1", hash_="new", ready=True),
        make_pod("p2", "n2", hash_="old"),
        make_pod("p3", "n3", hash_="new", ready=True),
        make_pod("p4", "n4", hash_="new", phase="Pending", bound=False),
    ]
    status = compute_status(make_ds(generation=3), nodes, pods, "new", NOW)
    assert status == DaemonSetStatus(
        desired_number_scheduled=3,
        current_number_scheduled=3,
        number_misscheduled=1,
        number_ready=1,
        number_available=1,
        number_unavailable=2,
        updated_number_scheduled=2,
        observed_generation=3,
    )


def test_oldest_pod_per_node_decides_and_bound_pods_come_first() -> None:
    pods = [
        make_pod("young", "n1", hash_="new", ready=True, created=T0 + timedelta(seconds=5)),
        make_pod("old", "n1", hash_="old", created=T0),
        make_pod("unbound", "n2", hash_="new", ready=True, bound=False, created=T0 - timedelta(hours=1)),
        make_pod("bound", "n2", hash_="old", created=T0),
    ]
    status = compute_status(make_ds(), [make_node("n1"), make_node("n2")], pods, "new", NOW)
    assert (status.current_number_scheduled, status.number_ready, status.updated_number_scheduled) == (2, 0, 0)


def test_same_second_ties_break_on_name() -> None:
    pods = [make_pod("b", "n1", hash_="x", ready=True), make_pod("a", "n1", hash_="new")]
    status = compute_status(make_ds(), [make_node("n1")], pods, "new", NOW)
    assert (status.number_ready, status.updated_number_scheduled) == (0, 1)


def test_updated_by_template_generation_when_hash_differs() -> None:
    pods = [make_pod("a", "n1", hash_="other", generation=4)]
    assert compute_status(make_ds(generation=4), [make_node("n1")], pods, "new", NOW).updated_number_scheduled == 1
    assert compute_status(make_ds(generation=5), [make_node("n1")], pods, "new", NOW).updated_number_scheduled == 0


def test_min_ready_seconds_is_strict_and_from_the_ready_transition() -> None:
    ds = make_ds(min_ready=15)
    pods = [make_pod("a", "n1", ready=True, ready_since=T0)]
    at = {s: compute_status(ds, [make_node("n1")], pods, "", T0 + timedelta(seconds=s)) for s in (10, 15, 16)}
    assert [at[s].number_available for s in (10, 15, 16)] == [0, 0, 1]
    assert all(at[s].number_ready == 1 for s in at)


def test_ready_without_transition_time_never_available_with_min_ready() -> None:
    pod = make_pod("a", "n1", ready=True)
    del pod["status"]["conditions"][0]["lastTransitionTime"]
    status = compute_status(make_ds(min_ready=1), [make_node("n1")], [pod], "", NOW)
    assert (status.number_ready, status.number_available) == (1, 0)


def test_terminating_pods_count_but_deleted_terminal_pods_do_not() -> None:
    pods = [make_pod("t", "n1", deleting=True), make_pod("f", "n2", phase="Failed", deleting=True)]
    status = compute_status(make_ds(), [make_node("n1"), make_node("n2")], pods, "", NOW)
    assert (status.desired_number_scheduled, status.current_number_scheduled) == (2, 1)


def test_pods_of_vanished_nodes_and_foreign_pods_are_not_counted() -> None:
    foreign = make_pod("f", "n1", owned=False, labels={"app": "other"})
    status = compute_status(make_ds(), [make_node("n1")], [make_pod("gone", "n9"), foreign], "", NOW)
    assert (status.desired_number_scheduled, status.current_number_scheduled, status.number_misscheduled) == (1, 0, 0)


def test_status_only_sync_keeps_observed_generation() -> None:
    ds = make_ds(generation=7)
    assert compute_status(ds, [], [], "", NOW, full_sync=False).observed_generation is None
    ds["status"] = {"observedGeneration": 6, "collisionCount": 2, "conditions": [{"type": "X"}]}
    status = compute_status(ds, [], [], "", NOW, full_sync=False)
    assert status.apply_to(ds["status"]) == {
        "observedGeneration": 6,
        "collisionCount": 2,
        "conditions": [{"type": "X"}],
        "currentNumberScheduled": 0,
        "desiredNumberScheduled": 0,
        "numberMisscheduled": 0,
        "numberReady": 0,
    }


def test_write_is_skipped_only_when_nothing_changed_and_generation_observed() -> None:
    ds = make_ds(generation=2)
    status = compute_status(ds, [make_node("n1")], [], "", NOW)
    assert status.needs_write(ds)
    ds["status"] = status.apply_to(ds["status"])
    assert not status.needs_write(ds)
    ds["metadata"]["generation"] = 3
    assert status.needs_write(ds)
    assert ds["status"]["numberUnavailable"] == 1 and "numberAvailable" not in ds["status"]
