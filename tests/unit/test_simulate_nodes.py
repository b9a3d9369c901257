"""Simulated Node and Lease objects, the timer heap and the latency statistics (pure)."""

from __future__ import annotations

import random

from miniplane.simulate import nodes
from miniplane.simulate.stats import BOUNDS, Latencies, Stats, quantile, rate, window
from miniplane.simulate.timers import Timers


def test_names_are_zero_padded_and_addresses_distinct() -> None:
    assert nodes.node_names("sim-", 3) == ["sim-00000", "sim-00001", "sim-00002"]
    assert nodes.node_names("n", 2, first=123_455) == ["n123455", "n123456"]
    addresses = {nodes.address(i) for i in range(70_000)}
    assert len(addresses) == 70_000
    assert nodes.address(0) == "10.0.0.1" and nodes.address(255) == "10.0.1.0"


def test_node_copies_the_agent_template_with_its_own_name_and_address() -> None:
    template = nodes.NodeTemplate.build({"tier": "sim"})
    a, b = template.node("sim-00000", "10.0.0.1"), template.node("sim-00001", "10.0.0.2")
    assert a["metadata"]["name"] == "sim-00000"
    assert a["metadata"]["labels"]["kubernetes.io/hostname"] == "sim-00000"
    assert a["metadata"]["labels"]["tier"] == "sim"
    assert b["metadata"]["labels"]["kubernetes.io/hostname"] == "sim-00001"  # copies do not share labels
    assert {x["type"]: x["address"] for x in a["status"]["addresses"]} == {
        "InternalIP": "10.0.0.1",
        "Hostname": "sim-00000",
    }
    assert a["status"]["capacity"] == nodes.CAPACITY == a["status"]["allocatable"]
    assert a["status"]["nodeInfo"]["containerRuntimeVersion"] == nodes.RUNTIME
    ready = {c["type"]: c["status"] for c in a["status"]["conditions"]}
    assert ready == {"MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", "Ready": "True"}
    assert not nodes.needs_status(a)


def test_needs_status_when_the_server_copy_is_not_healthy() -> None:
    node = nodes.NodeTemplate.build({}).node("n", "10.0.0.1")
    for condition in node["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition["status"] = "Unknown"
    assert nodes.needs_status(node)
    assert nodes.needs_status({"metadata": {"name": "n"}})


def test_healthy_conditions_keep_the_transition_time() -> None:
    out = nodes.healthy_conditions("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z")
    assert {c["lastTransitionTime"] for c in out} == {"2026-01-01T00:00:00Z"}
    assert {c["lastHeartbeatTime"] for c in out} == {"2026-01-01T00:05:00Z"}


def test_lease_is_owned_by_its_node_and_carries_the_version_for_updates() -> None:
    fresh = nodes.lease("n1", "uid-1", "2026-01-01T00:00:00.000001Z")
    assert fresh["metadata"]["namespace"] == "kube-node-lease"
    assert "resourceVersion" not in fresh["metadata"]
    assert fresh["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "uid-1"}]
    assert fresh["spec"] == {
        "holderIdentity": "n1",
        "leaseDurationSeconds": 40,
        "renewTime": "2026-01-01T00:00:00.000001Z",
    }
    assert nodes.lease("n1", "uid-1", "t", "42")["metadata"]["resourceVersion"] == "42"


def test_jitter_stays_within_four_percent() -> None:
    rng = random.Random(1)
    samples = [nodes.jittered(10.0, rng) for _ in range(1000)]
    assert 9.6 <= min(samples) < 9.7 and 10.3 < max(samples) <= 10.4


def test_timers_hand_out_due_items_in_order_and_report_the_earliest() -> None:
    timers: Timers[str] = Timers()
    assert timers.add(5.0, "b")
    assert timers.add(1.0, "a")
    assert not timers.add(9.0, "c")
    assert not timers.add(1.0, "a2")  # a tie is not earlier
    assert timers.next_at() == 1.0
    assert timers.due(0.5) == []
    assert timers.due(5.0) == ["a", "a2", "b"]
    assert (len(timers), timers.next_at()) == (1, 9.0)


def test_latency_quantiles_over_a_window() -> None:
    latencies = Latencies()
    for _ in range(99):
        latencies.observe(0.002)
    before = list(latencies.counts)
    for _ in range(98):
        latencies.observe(0.001)
    latencies.observe(0.040)
    latencies.observe(500.0)  # slower than the last bucket: counted in it
    counts = window(before, latencies.counts)
    assert sum(counts) == 100
    assert 0.001 <= quantile(counts, 0.5) <= 0.0011  # type: ignore[operator]
    assert 0.04 <= quantile(counts, 0.99) <= 0.044  # type: ignore[operator]
    assert quantile(counts, 1.0) == BOUNDS[-1]
    assert quantile([0] * len(BOUNDS), 0.5) is None


def test_stats_snapshot_and_rate() -> None:
    stats = Stats(nodes=3)
    before = stats.snapshot(100.0)
    stats.renewals += 50
    after = stats.snapshot(110.0)
    assert rate(before, after, "renewals") == 5.0
    assert after["nodes"] == 3 and len(after["renewal_latency"]) == len(BOUNDS)
