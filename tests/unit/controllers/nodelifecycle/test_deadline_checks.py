"""Heartbeat deadline checks: the Node's own heartbeat kept from the last check that wrote nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import orjson
import pytest

from miniplane.controllers.nodelifecycle.controller import LEASE_NAMESPACE, LEASES, NodeLifecycleController
from miniplane.controllers.nodelifecycle.plan import heartbeat_deadline, later_deadline, own_heartbeat
from miniplane.objects.service import ObjectService
from miniplane.store.base import StoredObject
from miniplane.store.memory import MemoryStore
from miniplane.timeutil import rfc3339_micro
from tests.unit.controllers.nodelifecycle.builders import GRACE, STARTUP_GRACE, T0, make_node

FIRST_SEEN = T0 - timedelta(hours=1)


@pytest.mark.parametrize(
    ("node", "renewed"),
    [
        (make_node("True", T0), None),
        (make_node("True", T0), T0 + timedelta(seconds=30)),
        (make_node("True", T0), T0 - timedelta(seconds=30)),
        (make_node("Unknown", T0 - timedelta(days=2)), None),  # the first sighting is the newest heartbeat
        (make_node(None), None),
        (make_node(None), T0 + timedelta(seconds=5)),
    ],
)
def test_the_deadline_from_the_kept_heartbeat_is_the_full_one(node: dict[str, object], renewed: datetime) -> None:
    kept = own_heartbeat(node, FIRST_SEEN, GRACE, STARTUP_GRACE)
    assert later_deadline(kept, renewed) == heartbeat_deadline(node, renewed, FIRST_SEEN, GRACE, STARTUP_GRACE)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def armed_in(controller: NodeLifecycleController) -> float:
    """Seconds until the node's deadline timer fires."""
    when, _ = controller.queue._timers["node", "n1"]
    return when - asyncio.get_running_loop().time()


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    yield memory
    await memory.close()


async def test_a_renewed_lease_rearms_the_deadline_without_reading_the_node_again(store: MemoryStore) -> None:
    clock = Clock(T0 + timedelta(seconds=1))
    controller = NodeLifecycleController(ObjectService(store), GRACE.total_seconds(), 60, clock)
    node = await store.create("nodes", make_node("True", T0))
    controller.nodes["n1"] = node
    controller.first_seen["n1"] = FIRST_SEEN
    await controller.handle(("node", "n1"))
    assert armed_in(controller) == pytest.approx(49, abs=0.5)  # the Ready heartbeat (T0) + grace

    # The same Node version, bytes that cannot be decoded: a re-check must not need them.
    controller.nodes["n1"] = dataclasses.replace(node, raw=b"not json")
    renewed = T0 + timedelta(seconds=45)
    lease = {"metadata": {"name": "n1", "namespace": LEASE_NAMESPACE}, "spec": {"renewTime": rfc3339_micro(renewed)}}
    controller.leases["n1"] = await store.create(LEASES, lease)
    clock.now = T0 + GRACE + timedelta(seconds=1)
    await controller.handle(("node", "n1"))
    assert armed_in(controller) == pytest.approx(44, abs=0.5)  # the renewal + grace
    assert (await store.get("nodes", "", "n1")).rv == node.rv  # nothing written

    # Past the renewed deadline the Node is read and planned again (and goes Unknown).
    controller.nodes["n1"] = node
    clock.now = renewed + GRACE + timedelta(seconds=1)
    await controller.handle(("node", "n1"))
    written: StoredObject = await store.get("nodes", "", "n1")
    ready = next(c for c in orjson.loads(written.raw)["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown"
