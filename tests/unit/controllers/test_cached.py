"""``node_view``: a cached Node keeps what placement reads and nothing else."""

from __future__ import annotations

from typing import Any

from miniplane.controllers.cached import node_view
from miniplane.scheduling.daemon import daemon_pod_spec, should_run_spec
from miniplane.store.memory import encode


def _node(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "n1",
            "uid": "u1",
            "labels": {"disk": "ssd"},
            "annotations": {"a": "b"},
            "managedFields": [{"manager": "agent"}],
        },
        "spec": {"podCIDR": "10.0.0.0/24", **spec},
        "status": {
            "capacity": {"cpu": "4"},
            "allocatable": {"cpu": "2", "pods": "110"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
            ],
            "nodeInfo": {"kubeletVersion": "v1.34.0"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        },
    }


def test_node_view_keeps_only_placement_facts() -> None:
    taints = [{"key": "k", "effect": "NoSchedule"}]
    view = node_view(encode("nodes", "", "n1", _node(taints=taints, unschedulable=True), None, 5))
    assert view == {
        "metadata": {"name": "n1", "uid": "u1", "labels": {"disk": "ssd"}},
        "spec": {"taints": taints, "unschedulable": True},
        "status": {
            "allocatable": {"cpu": "2", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def test_node_view_places_daemon_pods_as_the_whole_node_does() -> None:
    ds = {
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "nodeSelector": {"disk": "ssd"},
                    "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "3"}}}],
                }
            }
        },
    }
    spec = daemon_pod_spec(ds)
    for node in (_node(), _node(taints=[{"key": "k", "effect": "NoSchedule"}]), _node(unschedulable=True)):
        stored = encode("nodes", "", "n1", node, None, 5)
        assert should_run_spec(node_view(stored), spec) == should_run_spec(stored.decode(), spec)


def test_node_view_of_a_bare_node() -> None:
    view = node_view(encode("nodes", "", "n1", {"metadata": {"name": "n1"}}, None, 1))
    assert view == {"metadata": {"name": "n1"}, "spec": {}, "status": {}}
