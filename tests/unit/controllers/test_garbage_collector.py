"""The garbage collector's owner index follows ownerReferences through updates, without re-reading unchanged ones."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from miniplane.controllers.garbage_collector import GarbageCollector
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.server import bootstrap
from miniplane.store import errors as store_errors
from miniplane.store.base import StoredObject
from miniplane.store.memory import MemoryStore
from miniplane.timeutil import rfc3339_micro, utcnow

NODES, LEASES = BY_KEY["nodes"], BY_KEY["leases.coordination.k8s.io"]
LEASE_NS = "kube-node-lease"
OTHER = {"apiVersion": "v1", "kind": "Node", "name": "other", "uid": "uid-other"}


@pytest.fixture
async def collector() -> AsyncIterator[GarbageCollector]:
    store = MemoryStore()
    service = ObjectService(store)
    await bootstrap(service)
    gc = GarbageCollector(service)
    task = asyncio.create_task(gc.run())
    yield gc
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await store.close()


async def eventually(check: Callable[[], Any], within: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def node_lease(service: ObjectService, name: str) -> str:
    """A Node and its Lease (owned by it); returns the Node's uid."""
    node = await service.store.create(NODES.key, {"metadata": {"name": name, "uid": f"uid-{name}"}})
    owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": f"uid-{name}"}
    lease = {"metadata": {"name": name, "namespace": LEASE_NS, "uid": f"lease-{name}", "ownerReferences": [owner]}}
    await service.store.create(LEASES.key, lease | {"spec": {"renewTime": rfc3339_micro(utcnow())}})
    return str(node.decode()["metadata"]["uid"])


async def renew(service: ObjectService, name: str, owners: list[dict[str, Any]] | None = None) -> None:
    lease = (await service.store.get(LEASES.key, LEASE_NS, name)).decode()
    lease["spec"]["renewTime"] = rfc3339_micro(utcnow())
    if owners is not None:
        lease["metadata"]["ownerReferences"] = owners
    await service.store.update(LEASES.key, lease)


async def gone(service: ObjectService, name: str) -> bool:
    try:
        await service.store.get(LEASES.key, LEASE_NS, name)
    except store_errors.NotFound:
        return True
    return False


async def test_renewals_keep_the_lease_owned_and_collected_with_its_node(collector: GarbageCollector) -> None:
    service = collector.service
    uid = await node_lease(service, "n1")
    for _ in range(3):
        await renew(service, "n1")
    await eventually(lambda: _indexed(collector, uid))
    await service.delete(NODES, "", "n1")
    await eventually(lambda: gone(service, "n1"))


async def test_an_update_that_changes_the_owner_is_indexed(collector: GarbageCollector) -> None:
    service = collector.service
    await node_lease(service, "n1")
    await node_lease(service, "n2")
    await eventually(lambda: _indexed(collector, "uid-n1"))
    owner = {"apiVersion": "v1", "kind": "Node", "name": "n2", "uid": "uid-n2"}
    await renew(service, "n1", [owner])  # lease n1 now belongs to node n2
    await eventually(lambda: _owned_by(collector, "n1", ("uid-n2",)))
    await service.delete(NODES, "", "n1")
    await asyncio.sleep(0.1)
    assert not await gone(service, "n1")  # its owner n2 still exists
    await service.delete(NODES, "", "n2")
    await eventually(lambda: gone(service, "n1"))


async def test_an_owner_that_does_not_exist_gets_its_dependent_collected(collector: GarbageCollector) -> None:
    service = collector.service
    await node_lease(service, "n1")
    await eventually(lambda: _indexed(collector, "uid-n1"))
    await renew(service, "n1", [{"apiVersion": "v1", "kind": "Node", "name": "ghost", "uid": "uid-ghost"}])
    await eventually(lambda: gone(service, "n1"))


async def _indexed(gc: GarbageCollector, owner_uid: str) -> bool:
    return bool(gc.dependents.get(owner_uid))


async def _owned_by(gc: GarbageCollector, lease: str, owners: tuple[str, ...]) -> bool:
    return gc.owners_of((LEASES.key, LEASE_NS, lease)) == owners


async def test_renewals_that_keep_the_owners_are_not_handled(collector: GarbageCollector) -> None:
    service = collector.service
    await node_lease(service, "n1")
    await eventually(lambda: _indexed(collector, "uid-n1"))
    handled: list[str] = []
    handle = collector._handle

    async def counting(kind: str, obj: StoredObject) -> None:
        handled.append(f"{kind} {obj.resource}/{obj.name}")
        await handle(kind, obj)

    collector._handle = counting  # type: ignore[method-assign]
    for _ in range(3):
        await renew(service, "n1")
    await renew(service, "n1", [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "uid-n1"}, OTHER])
    await eventually(lambda: _owned_by(collector, "n1", ("uid-n1", "uid-other")))
    assert handled == [f"MODIFIED {LEASES.key}/n1"]  # the update that added an owner, only
