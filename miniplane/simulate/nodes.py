"""The objects a simulated node writes: its Node, its Lease and its status heartbeat (pure, no I/O).

Nodes read like the real agent's (``agent.node`` builds the template: labels, capacity, the four
healthy conditions, nodeInfo, addresses), with a fixed simulated capacity, an address per node in
10.0.0.0/8 and ``containerRuntimeVersion: miniplane://simulated``. The Lease is renewed as the
kubelet does it: a PUT of the last Lease with a new ``renewTime`` (optimistic concurrency on its
resourceVersion).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

from agent.node import NodeConfig, conditions, node_object

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
CAPACITY = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
RUNTIME = "miniplane://simulated"
JITTER = 0.04  # renewals and status reports wander by up to ±4% of their interval


def node_names(prefix: str, count: int, first: int = 0) -> list[str]:
    """``prefix00000``, ``prefix00001``, ...: zero-padded so they sort in order."""
    width = max(5, len(str(first + count - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(first, first + count)]


def address(index: int) -> str:
    """The simulated InternalIP of node ``index``: 10.0.0.1, 10.0.0.2, ... (pods share it, as on the agent)."""
    n = index + 1
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@dataclass(frozen=True, slots=True)
class NodeTemplate:
    """A Node every simulated node copies, changing only its name and address."""

    body: dict[str, Any]

    @classmethod
    def build(cls, labels: dict[str, str]) -> NodeTemplate:
        body = node_object(NodeConfig(name="template", labels=labels, capacity=dict(CAPACITY), address="10.0.0.0"))
        body["status"]["nodeInfo"]["containerRuntimeVersion"] = RUNTIME
        return cls(body)

    def node(self, name: str, ip: str) -> dict[str, Any]:
        """The Node to register as ``name`` with address ``ip``."""
        body = copy.deepcopy(self.body)
        body["metadata"]["name"] = name
        body["metadata"]["labels"]["kubernetes.io/hostname"] = name
        body["status"]["addresses"] = [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]
        return body


def healthy_conditions(since: str, now: str) -> list[dict[str, Any]]:
    """The agent's four healthy node conditions, heartbeat ``now``, unchanged since ``since``."""
    out = conditions()
    for condition in out:
        condition["lastHeartbeatTime"] = now
        condition["lastTransitionTime"] = since
    return out


def lease(name: str, node_uid: str, renew_time: str, resource_version: str = "") -> dict[str, Any]:
    """The node's Lease in ``kube-node-lease``, owned by its Node; with a resourceVersion for an update."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": LEASE_NAMESPACE,
        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}],
    }
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": renew_time},
    }


def jittered(interval: float, rng: random.Random) -> float:
    """``interval`` ± ``JITTER``, so renewals spread rather than bunch up."""
    return interval * (1 + JITTER * (2 * rng.random() - 1))


def needs_status(node: dict[str, Any]) -> bool:
    """Whether the server's copy of our Node says something else than healthy (e.g. Ready Unknown)."""
    status = node.get("status") or {}
    found = {c.get("type"): c.get("status") for c in status.get("conditions") or ()}
    return found.get("Ready") != "True" or any(found.get(k) != "False" for k in _PRESSURES)


_PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
