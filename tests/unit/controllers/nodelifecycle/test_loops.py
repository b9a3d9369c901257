"""The two loops in process, on a real MemoryStore and ObjectService, with sub-second grace periods."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from miniplane.controllers.nodelifecycle.controller import NodeLifecycleController
from miniplane.controllers.nodelifecycle.podgc import PodGarbageCollector
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.server import bootstrap
from miniplane.store import errors as store_errors
from miniplane.store.memory import MemoryStore
from miniplane.timeutil import rfc3339_micro, utcnow
from tests.unit.controllers.nodelifecycle.builders import DAEMON_TOLERATIONS, DEFAULT_TOLERATIONS

GRACE = 0.4
NODES, PODS, LEASES, EVENTS = (BY_KEY[k] for k in ("nodes", "pods", "leases.coordination.k8s.io", "events"))


@pytest.fixture
async def service() -> AsyncIterator[ObjectService]:
    store = MemoryStore()
    svc = ObjectService(store)
    await bootstrap(svc)
    controllers = [NodeLifecycleController(svc, GRACE, GRACE), PodGarbageCollector(svc, 0.3)]
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    yield svc
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await store.close()


async def eventually(check: Callable[[], Any], within: float = 3.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def get(svc: ObjectService, info: Any, name: str, namespace: str = "") -> dict[str, Any] | None:
    try:
        return (await svc.store.get(info.key, namespace, name)).decode()
    except store_errors.NotFound:
        return None


async def add_node(svc: ObjectService, name: str, ready: str | None = "True") -> None:
    now = rfc3339_micro(utcnow())
    node: dict[str, Any] = {"metadata": {"name": name}}
    if ready is not None:
        node["status"] = {
            "conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": now, "lastTransitionTime": now}]
        }
    await svc.create(NODES, "", node)


async def heartbeat(svc: ObjectService, name: str) -> None:
    stored = await svc.store.get(NODES.key, "", name)
    node = stored.decode()
    now = rfc3339_micro(utcnow())
    node["status"]["conditions"] = [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": now, "lastTransitionTime": now}
    ]
    await svc.store.update(NODES.key, node)


async def add_pod(svc: ObjectService, name: str, node: str, tolerations: list[dict[str, Any]]) -> None:
    spec = {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}], "tolerations": tolerations}
    await svc.create(PODS, "default", {"metadata": {"name": name}, "spec": spec})
    stored = await svc.store.get(PODS.key, "default", name)
    pod = stored.decode()
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    await svc.store.update(PODS.key, pod)


def taint_keys(node: dict[str, Any] | None) -> list[str]:
    taints = (node or {}).get("spec", {}).get("taints", [])
    return [f"{t['key'].removeprefix('node.kubernetes.io/')}:{t['effect']}" for t in taints]


def ready_of(obj: dict[str, Any] | None) -> str | None:
    conditions = (obj or {}).get("status", {}).get("conditions", [])
    return next((c["status"] for c in conditions if c["type"] == "Ready"), None)


async def test_a_silent_node_goes_unknown_and_comes_back(service: ObjectService) -> None:
    await add_node(service, "n1")
    assert taint_keys(await get(service, NODES, "n1")) == ["not-ready:NoSchedule"]  # admission
    await eventually(lambda: _taints_are(service, "n1", []))
    await add_pod(service, "ds-pod", "n1", DAEMON_TOLERATIONS)
    await add_pod(service, "web", "n1", DEFAULT_TOLERATIONS)

    await eventually(lambda: _taints_are(service, "n1", ["unreachable:NoSchedule", "unreachable:NoExecute"]))
    node = await get(service, NODES, "n1")
    assert ready_of(node) == "Unknown"
    for pod in ("ds-pod", "web"):
        await eventually(functools.partial(_pod_ready_is, service, pod, "False"))
    events = [e.decode() for e in (await service.store.list(EVENTS.key))[0]]
    reasons = {(e["involvedObject"]["kind"], e["involvedObject"]["name"], e["reason"], e["message"]) for e in events}
    assert ("Node", "n1", "NodeNotReady", "Node n1 status is now: NodeNotReady") in reasons
    assert ("Pod", "web", "NodeNotReady", "Node is not ready") in reasons
    assert all(e["source"] == {"component": "node-controller"} for e in events)

    await heartbeat(service, "n1")
    await eventually(lambda: _taints_are(service, "n1", []))
    assert await get(service, PODS, "web", "default") is not None  # 300 s of toleration left


async def test_a_renewed_lease_keeps_a_node_ready(service: ObjectService) -> None:
    await add_node(service, "n1")
    lease = {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1", "renewTime": rfc3339_micro(utcnow())}}
    await service.create(LEASES, "kube-node-lease", lease)
    for _ in range(8):
        await asyncio.sleep(GRACE / 4)
        stored = await service.store.get(LEASES.key, "kube-node-lease", "n1")
        renewed = stored.decode()
        renewed["spec"]["renewTime"] = rfc3339_micro(utcnow())
        await service.store.update(LEASES.key, renewed)
    assert ready_of(await get(service, NODES, "n1")) == "True"
    await eventually(lambda: _taints_are(service, "n1", ["unreachable:NoSchedule", "unreachable:NoExecute"]))


async def test_noexecute_taint_evicts_intolerant_pods_only(service: ObjectService) -> None:
    await add_node(service, "n1")
    for _ in range(3):
        await heartbeat(service, "n1")
    await add_pod(service, "plain", "n1", [])
    await add_pod(service, "daemon", "n1", DAEMON_TOLERATIONS)
    stored = await service.store.get(NODES.key, "", "n1")
    node = stored.decode()
    node["spec"]["taints"] = [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]
    node["status"]["conditions"][0]["status"] = "False"
    await service.store.update(NODES.key, node)

    plain = await eventually(lambda: _terminating(service, "plain"))
    assert any(c["type"] == "DisruptionTarget" for c in plain["status"]["conditions"])
    assert (await get(service, PODS, "daemon", "default") or {}).get("metadata", {}).get("deletionTimestamp") is None


async def test_pods_of_a_deleted_node_are_collected_after_the_quarantine(service: ObjectService) -> None:
    await add_node(service, "n1")
    await add_pod(service, "orphan", "n1", DAEMON_TOLERATIONS)
    start = utcnow()
    await service.delete(NODES, "", "n1")
    await eventually(lambda: _gone(service, "orphan"))
    assert utcnow() - start >= timedelta(seconds=0.3)


async def _taints_are(svc: ObjectService, name: str, expected: list[str]) -> bool:
    return taint_keys(await get(svc, NODES, name)) == expected


async def _pod_ready_is(svc: ObjectService, name: str, status: str) -> bool:
    return ready_of(await get(svc, PODS, name, "default")) == status


async def _terminating(svc: ObjectService, name: str) -> dict[str, Any] | None:
    pod = await get(svc, PODS, name, "default")
    return pod if pod and pod["metadata"].get("deletionTimestamp") else None


async def _gone(svc: ObjectService, name: str) -> bool:
    return await get(svc, PODS, name, "default") is None
