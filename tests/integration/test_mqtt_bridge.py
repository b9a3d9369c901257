"""The server's MQTT bridge against a real mosquitto, with hand-driven agents (raw MQTT clients).

What the broker's ACL and the bridge guarantee: a node cannot publish as another or read another's
desired state; a node's writes follow NodeRestriction; pod status reports that arrive late or twice
do no harm; a Lease only moves forward; the pushed pod list follows the store, newest rv last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from miniplane.mqtt import protocol as p
from miniplane.mqtt.bridge import Bridge
from miniplane.mqtt.broker import BrokerProcess
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.store.memory import MemoryStore
from tests.mqtt_broker import start_broker

PODS, NODES, LEASES = BY_KEY["pods"], BY_KEY["nodes"], BY_KEY["leases.coordination.k8s.io"]


@dataclass
class FakeAgent:
    """A raw MQTT client speaking for one node; everything it receives lands in ``inbox``."""

    name: str
    client: aiomqtt.Client
    inbox: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def send(self, kind: str, message: dict[str, Any], node: str = "") -> None:
        await self.client.publish(p.up(node or self.name, kind), p.encode(message), qos=1)

    def received(self, topic: str) -> list[dict[str, Any]]:
        return [body for t, body in self.inbox if t == topic]


async def _until(check: Any, within: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while not (value := check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {check}"
        await asyncio.sleep(0.02)
    return value


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    process = start_broker(tmp_path)
    for name in ("n1", "n2"):
        process.files.add_node(name, f"token-{name}")
    yield process
    process.stop()


@pytest.fixture
async def bridge(broker: BrokerProcess) -> AsyncIterator[Bridge]:
    service = ObjectService(MemoryStore())
    for namespace in ("default", "kube-node-lease"):
        await service.create(
            BY_KEY["namespaces"], "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    address = broker.files.address()
    running = Bridge(service, address, username=p.SERVER_USER, password=broker.files.server_password(), keepalive=5)
    task = asyncio.create_task(running.run())
    await asyncio.wait_for(running.connected.wait(), 10)
    yield running
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def agent(broker: BrokerProcess, name: str, *extra_topics: str) -> AsyncIterator[FakeAgent]:
    address = broker.files.address()
    async with aiomqtt.Client(address.host, address.port, username=name, password=f"token-{name}") as client:
        fake = FakeAgent(name, client)
        for topic in (p.down_filter(name), *extra_topics):
            await client.subscribe(topic, qos=1)

        async def collect() -> None:
            with contextlib.suppress(aiomqtt.MqttError):
                async for message in client.messages:
                    fake.inbox.append((message.topic.value, p.decode(message.payload)))  # type: ignore[arg-type]

        reader = asyncio.create_task(collect())
        await fake.send(p.PRESENCE, {"state": p.ONLINE, "session": f"s-{name}", "keepalive": 5})
        try:
            yield fake
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


def _node(name: str) -> dict[str, Any]:
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": "2026-11-24T00:00:00Z"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {}},
        "status": {"conditions": [ready]},
    }


def _pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }


async def _register(fake: FakeAgent) -> str:
    await fake.send(p.REGISTER, {"id": "r1", "node": orjson.dumps(_node(fake.name))})
    reply = (await _until(lambda: fake.received(p.down(fake.name, p.REPLY))))[0]
    return str(reply["uid"])


async def _phase(service: ObjectService, name: str) -> str | None:
    return (await service.get(PODS, "default", name)).decode().get("status", {}).get("phase")


async def test_register_then_desired_state_is_pushed_and_follows_the_store(
    bridge: Bridge, broker: BrokerProcess
) -> None:
    async with agent(broker, "n1") as n1:
        uid = await _register(n1)
        assert (await bridge.service.get(NODES, "", "n1")).decode()["metadata"]["uid"] == uid
        await bridge.service.create(PODS, "default", _pod("a", "n1"))
        await bridge.service.create(PODS, "default", _pod("elsewhere", "n2"))
        pods_topic = p.down("n1", p.PODS)
        await _until(lambda: any(len(m["pods"]) == 1 for m in n1.received(pods_topic)))
        with_a = next(m for m in n1.received(pods_topic) if len(m["pods"]) == 1)
        assert orjson.loads(with_a["pods"][0])["metadata"]["name"] == "a"
        await bridge.service.delete(PODS, "default", "a", {"gracePeriodSeconds": 0})
        await _until(lambda: n1.received(pods_topic)[-1]["pods"] == [])
        rvs = [m["rv"] for m in n1.received(pods_topic)]
        assert rvs == sorted(rvs) and rvs[-1] > with_a["rv"]
        assert all(orjson.loads(raw)["spec"]["nodeName"] == "n1" for m in n1.received(pods_topic) for raw in m["pods"])


async def test_acl_keeps_a_node_to_its_own_topics(bridge: Bridge, broker: BrokerProcess) -> None:
    async with agent(broker, "n2") as n2, agent(broker, "n1", p.down_filter("n2")) as n1:
        await _register(n2)
        await bridge.service.create(PODS, "default", _pod("b", "n2"))
        await _until(lambda: any(m["pods"] for m in n2.received(p.down("n2", p.PODS))))
        assert not [t for t, _ in n1.inbox if "/n2/" in t], "n1 read n2's desired state"
        before = (await bridge.service.get(NODES, "", "n2")).rv
        with contextlib.suppress(aiomqtt.MqttError):  # mosquitto drops a client that publishes outside its ACL
            await n1.send(p.NODE_STATUS, {"seq": 1, "status": orjson.dumps({"capacity": {"cpu": "99"}})}, node="n2")
            await asyncio.sleep(0.5)
        assert (await bridge.service.get(NODES, "", "n2")).rv == before


async def test_node_restriction_and_stale_reports(bridge: Bridge, broker: BrokerProcess) -> None:
    async with agent(broker, "n1") as n1, agent(broker, "n2") as n2:
        await _register(n1)
        await _register(n2)
        await bridge.service.create(PODS, "default", _pod("c", "n1"))
        stored = await bridge.service.get(PODS, "default", "c")
        pod_uid = stored.decode()["metadata"]["uid"]

        def report(seq: int, phase: str) -> dict[str, Any]:
            status = {"phase": phase}
            return {"seq": seq, "namespace": "default", "name": "c", "uid": pod_uid, "status": orjson.dumps(status)}

        await n2.send(p.POD_STATUS, report(1, "Failed"))  # not n2's pod
        await n1.send(p.POD_STATUS, report(10, "Running"))
        for _ in range(100):
            if await _phase(bridge.service, "c") == "Running":
                break
            await asyncio.sleep(0.02)
        assert await _phase(bridge.service, "c") == "Running"
        await n1.send(p.POD_STATUS, report(5, "Pending"))  # older, arriving late
        await n1.send(p.POD_STATUS, report(10, "Running"))  # a duplicate
        await asyncio.sleep(0.3)
        assert await _phase(bridge.service, "c") == "Running"
        stale_uid = report(11, "Succeeded") | {"uid": "another-pod-with-that-name"}
        await n1.send(p.POD_STATUS, stale_uid)
        await asyncio.sleep(0.3)
        assert await _phase(bridge.service, "c") == "Running"


async def test_a_lease_only_moves_forward(bridge: Bridge, broker: BrokerProcess) -> None:
    async with agent(broker, "n1") as n1:
        uid = await _register(n1)
        await n1.send(p.LEASE, {"renewTime": "2026-11-24T10:00:02.000000Z", "uid": uid})
        await n1.send(p.LEASE, {"renewTime": "2026-11-24T10:00:01.000000Z", "uid": uid})

        async def renew_time() -> str:
            with contextlib.suppress(Exception):
                return str((await bridge.service.get(LEASES, "kube-node-lease", "n1")).decode()["spec"]["renewTime"])
            return ""

        for _ in range(100):
            if await renew_time():
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert await renew_time() == "2026-11-24T10:00:02.000000Z"
        assert bridge.stats.heartbeats == 2
