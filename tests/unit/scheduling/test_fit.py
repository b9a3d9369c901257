"""Scheduler filters and the Unschedulable message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from miniplane.scheduling.fit import NodeFit, filter_nodes, unschedulable_message


def node(name: str, labels: dict[str, str] | None = None, *, taints: Any = (), **allocatable: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": list(taints)},
        "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "10", **allocatable}},
    }


def pod(name: str, node_name: str = "", *, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"nodeName": node_name, "containers": spec.pop("containers", [{"name": "c"}]), **spec},
        "status": {"phase": "Running"},
    }


def requests(**values: str) -> list[dict[str, Any]]:
    return [{"name": "c", "resources": {"requests": values}}]


def anti_affinity(app: str, kind: str = "podAntiAffinity") -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def reasons(incoming: dict[str, Any], nodes: list[dict[str, Any]], pods: Sequence[dict[str, Any]] = ()) -> Any:
    return {n: f.reasons for n, f in filter_nodes(incoming, nodes, pods).items()}


def test_fits_and_insufficient_resources() -> None:
    bound = [pod("a", "n1", containers=requests(cpu="1500m", memory="512Mi"))]
    result = reasons(pod("p", containers=requests(cpu="1", memory="600Mi")), [node("n1"), node("n2")], bound)
    assert result == {"n1": ("Insufficient cpu", "Insufficient memory"), "n2": ()}


def test_limits_count_as_requests_and_extended_resources() -> None:
    gpu = [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]
    result = reasons(pod("p", containers=gpu), [node("n1"), node("n2", None, **{"nvidia.com/gpu": "1"})])
    assert result == {"n1": ("Insufficient nvidia.com/gpu",), "n2": ()}


def test_too_many_pods_and_terminal_pods_do_not_count() -> None:
    bound = [pod("a", "n1"), pod("b", "n1")]
    done = pod("c", "n1")
    done["status"]["phase"] = "Succeeded"
    assert reasons(pod("p"), [node("n1", pods="2")], [*bound, done]) == {"n1": ("Too many pods",)}
    assert reasons(pod("p"), [node("n1", pods="3")], [*bound, done]) == {"n1": ()}


def test_init_containers_and_sidecars() -> None:
    spec: dict[str, Any] = {
        "initContainers": [
            {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
            {"name": "init", "resources": {"requests": {"cpu": "1600m"}}},
        ],
        "containers": requests(cpu="1"),
    }
    # init peak = 1600m + 500m sidecar = 2100m > 2 cpu
    assert reasons(pod("p", **spec), [node("n1")]) == {"n1": ("Insufficient cpu",)}


HOST_8080 = {"containerPort": 80, "hostPort": 8080}


@pytest.mark.parametrize(
    ("ports", "used", "clash"),
    [
        ([{"containerPort": 80, "hostPort": 8080}], [{"containerPort": 80, "hostPort": 8080}], True),
        ([{"containerPort": 80, "hostPort": 8080}], [{"containerPort": 80, "hostPort": 8081}], False),
        ([{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}], [HOST_8080], False),
        (
            [{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}],
            [{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.2"}],
            False,
        ),
        ([{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}], [HOST_8080], True),
        ([{"containerPort": 80}], [{"containerPort": 80}], False),
    ],
    ids=["same port", "other port", "other protocol", "different addresses", "0.0.0.0 covers all", "no hostPort"],
)
def test_node_ports(ports: list[dict[str, Any]], used: list[dict[str, Any]], clash: bool) -> None:
    bound = [pod("a", "n1", containers=[{"name": "c", "ports": used}])]
    expected = ("node(s) didn't have free ports for the requested pod ports",) if clash else ()
    assert reasons(pod("p", containers=[{"name": "c", "ports": ports}]), [node("n1")], bound) == {"n1": expected}


def test_filter_order_stops_at_first_failure() -> None:
    nodes = [
        {**node("n1"), "spec": {"unschedulable": True, "taints": [{"key": "x", "value": "y", "effect": "NoSchedule"}]}},
        node("n2", taints=[{"key": "x", "value": "y", "effect": "NoSchedule"}]),
        node("n3", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
        node("n4", {"disk": "hdd"}),
        node("n5", {"disk": "ssd"}, memory="1Mi"),
    ]
    result = reasons(pod("p", nodeSelector={"disk": "ssd"}, containers=requests(memory="10Mi")), nodes)
    assert result == {
        "n1": ("node(s) were unschedulable",),
        "n2": ("node(s) had untolerated taint {x: y}",),
        "n3": ("node(s) had untolerated taint {node.kubernetes.io/not-ready: }",),
        "n4": ("node(s) didn't match Pod's node affinity/selector",),
        "n5": ("Insufficient memory",),
    }


def test_daemon_pod_pinned_by_match_fields_is_pre_filtered() -> None:
    pinned = {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": pinned}}
    fits = filter_nodes(pod("p", affinity=affinity, containers=requests(memory="2Gi")), [node("n1"), node("n2")], [])
    assert fits["n1"] == NodeFit(("node(s) didn't satisfy plugin(s) [NodeAffinity]",), resolvable=False)
    assert fits["n2"] == NodeFit(("Insufficient memory",))
    assert unschedulable_message(fits) == (
        "0/2 nodes are available: 1 Insufficient memory, 1 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    )


def test_inter_pod_anti_affinity_both_ways() -> None:
    nodes = [node("n1"), node("n2"), node("n3")]
    web = pod("web", "n1", labels={"app": "web"}, affinity=anti_affinity("web"))
    db = pod("db", "n2", labels={"app": "db"})
    incoming = pod("p", labels={"app": "web"}, affinity=anti_affinity("db"))
    assert reasons(incoming, nodes, [web, db]) == {
        "n1": ("node(s) didn't satisfy existing pods anti-affinity rules",),
        "n2": ("node(s) didn't match pod anti-affinity rules",),
        "n3": (),
    }


def test_inter_pod_affinity_and_the_first_pod_of_a_group() -> None:
    nodes = [node("n1"), node("n2")]
    incoming = pod("p", labels={"app": "cache"}, affinity=anti_affinity("cache", "podAffinity"))
    assert reasons(incoming, nodes, []) == {"n1": (), "n2": ()}
    other = pod("c1", "n2", labels={"app": "cache"})
    fits = filter_nodes(incoming, nodes, [other])
    assert fits["n1"] == NodeFit(("node(s) didn't match pod affinity rules",), resolvable=False)
    assert fits["n2"].fits


def test_unschedulable_message_counts_and_sorts() -> None:
    fits = {
        "n1": NodeFit(("Insufficient memory",)),
        "n2": NodeFit(("node(s) had untolerated taint {k: v}",), resolvable=False),
        "n3": NodeFit(("node(s) had untolerated taint {k: v}",), resolvable=False),
    }
    assert unschedulable_message(fits) == (
        "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {k: v}. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )
    assert unschedulable_message({}) == "no nodes available to schedule pods"
