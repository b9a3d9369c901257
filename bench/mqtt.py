"""``make bench-mqtt``: failure detection through last wills, heartbeat intake, converge over MQTT vs HTTP.

- detection: a real agent on MQTT is killed with SIGKILL 20 times; each time, from the kill until
  a watch on the Node sees Ready=Unknown (p50/p99);
- heartbeat intake: the server's bridge (in this process, on uvloop, over a memory store) takes
  Lease renewals for 1,000 nodes that two publisher processes send as fast as they can; messages
  taken per second, and the Lease writes they coalesced into;
- converge: a DaemonSet over 1,000 simulated nodes, from its create until ``numberAvailable`` is
  1,000: over HTTP with ``miniplane simulate``, and over MQTT with nodes simulated here (one
  connection as the server's broker user speaks for all of them: register, then Running/Ready
  pod status for each pushed pod).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import uvloop

from agent.node import NodeConfig, node_object
from bench.common import print_table, proc_cpu_seconds
from miniplane.mqtt import protocol as p
from miniplane.mqtt.bridge import Bridge
from miniplane.mqtt.broker import BrokerProcess
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.simulate.pods import running_status
from miniplane.store.memory import MemoryStore
from tests.cluster import REPO, Server, start_server, wait_for
from tests.mqtt_broker import broker_url, node, ready, start_broker, start_mqtt_agent

DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "bench", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "bench"}},
        "template": {
            "metadata": {"labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]},
        },
    },
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---- failure detection ---------------------------------------------------------------------------


async def _unknown_after_kill(server: Server, kill: Any) -> float:
    """Kill, then wait for a watch event that shows the node Unknown; seconds in between."""
    async with server.client() as client:
        _, rv = await client.list("/api/v1/nodes")
        started = time.monotonic()
        kill()
        async for _, obj in client.watch("/api/v1/nodes", rv, {"fieldSelector": "metadata.name=victim"}):
            if ready(obj) == "Unknown":
                return time.monotonic() - started
    raise RuntimeError("the watch ended before the node went Unknown")


def detection(work: Path, kills: int) -> list[float]:
    broker = start_broker(work)
    server = start_server(work, "--mqtt-broker", broker_url(broker), "--node-monitor-grace-period", "120s")
    root = work / "agents" / "victim"
    times = []
    try:
        for _ in range(kills):
            agent = start_mqtt_agent(server, broker, "victim", root=root)
            wait_for(lambda: ready(node(server, "victim")) == "True", timeout=60, interval=0.05, what="victim Ready")
            times.append(
                asyncio.run(_unknown_after_kill(server, lambda a=agent: a.process.send_signal(signal.SIGKILL)))
            )
            agent.process.wait()
    finally:
        server.stop()
        broker.stop()
    return times


# ---- heartbeat intake -----------------------------------------------------------------------------


def publish_heartbeats(host: str, port: int, password: str, nodes: int, count: int, offset: int) -> None:
    """A publisher process: ``count`` Lease renewals over ``nodes`` node topics, paho directly (no asyncio)."""
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{offset}")
    client.username_pw_set(p.SERVER_USER, password)
    client.max_queued_messages_set(0)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    topics = [p.up(f"hb-{i}", p.LEASE) for i in range(nodes)]
    for i in range(count):
        renew = f"2026-11-24T10:{(offset + i) // 60_000_000 % 60:02d}:{i // 1_000_000 % 60:02d}.{i % 1_000_000:06d}Z"
        client.publish(topics[i % nodes], p.encode({"renewTime": renew, "uid": ""}), qos=0)
    time.sleep(1.0)
    client.loop_stop()
    client.disconnect()


async def _intake(broker: BrokerProcess, nodes: int, per_publisher: int, publishers: int) -> tuple[float, int, int]:
    service = ObjectService(MemoryStore())
    for namespace in ("default", "kube-node-lease"):
        await service.create(
            BY_KEY["namespaces"], "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    address = broker.files.address()
    bridge = Bridge(service, address, username=p.SERVER_USER, password=broker.files.server_password())
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.connected.wait(), 10)
    argv = [sys.executable, "-m", "bench.mqtt", "--publish", address.host, str(address.port)]
    argv += [broker.files.server_password(), str(nodes), str(per_publisher)]
    children = [
        await asyncio.create_subprocess_exec(*argv, str(i * per_publisher), cwd=REPO) for i in range(publishers)
    ]
    total = per_publisher * publishers
    while not bridge.stats.heartbeats:  # noqa: ASYNC110 - polling a counter the bridge bumps
        await asyncio.sleep(0.001)
    started = time.monotonic()
    first = bridge.stats.heartbeats
    last_change, seen = started, first
    while bridge.stats.heartbeats < total and time.monotonic() - last_change < 3:
        await asyncio.sleep(0.01)
        if bridge.stats.heartbeats != seen:
            seen, last_change = bridge.stats.heartbeats, time.monotonic()
    elapsed = last_change - started
    for child in children:
        await child.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return (bridge.stats.heartbeats - first) / elapsed, bridge.stats.heartbeats, bridge.stats.lease_writes


def intake(work: Path, nodes: int, per_publisher: int, publishers: int) -> tuple[float, int, int, float]:
    broker = start_broker(work)
    try:
        import os

        cpu = proc_cpu_seconds(os.getpid())
        rate, taken, writes = uvloop.run(_intake(broker, nodes, per_publisher, publishers))
        return rate, taken, writes, proc_cpu_seconds(os.getpid()) - cpu
    finally:
        broker.stop()


# ---- converge -------------------------------------------------------------------------------------


def _available(server: Server) -> int:
    try:
        with server.urlopen("/apis/apps/v1/namespaces/default/daemonsets/bench", timeout=10) as response:
            return int(orjson.loads(response.read()).get("status", {}).get("numberAvailable", 0))
    except OSError:
        return 0


def _converge(server: Server, nodes: int) -> float:
    wait_for(lambda: _ready_nodes(server) >= nodes, timeout=600, interval=0.5, what=f"{nodes} Ready nodes")
    started = time.monotonic()
    with server.urlopen("/api/v1/namespaces/default/pods", timeout=10):
        pass
    server.kubectl("apply", "-f", "-", input=orjson.dumps(DAEMONSET).decode(), check=True)
    wait_for(lambda: _available(server) >= nodes, timeout=900, interval=0.2, what=f"{nodes} available")
    return time.monotonic() - started


def _ready_nodes(server: Server) -> int:
    with server.urlopen("/api/v1/nodes", timeout=30) as response:
        return sum(ready(n) == "True" for n in orjson.loads(response.read())["items"])


def converge_http(work: Path, nodes: int) -> float:
    server = start_server(work, "--node-monitor-grace-period", "600s")
    argv = [sys.executable, "-m", "miniplane.cli", "simulate", "--server", server.url]
    argv += ["--token-file", str(work / "node-token"), "--nodes", str(nodes), "--pod-start-delay", "0s"]
    with open(work / "simulate.log", "ab") as log:
        fleet = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        return _converge(server, nodes)
    finally:
        fleet.terminate()
        fleet.wait()
        server.stop()


async def _mqtt_fleet(broker: BrokerProcess, nodes: int, registered: asyncio.Event) -> None:
    """Every simulated node: online, registered, and its pushed pods reported Running and Ready."""
    address = broker.files.address()
    names = [f"mq-{i:05d}" for i in range(nodes)]
    reported: set[str] = set()
    in_flight: set[asyncio.Task[None]] = set()
    async with aiomqtt.Client(
        address.host,
        address.port,
        username=p.SERVER_USER,
        password=broker.files.server_password(),
        socket_options=p.NO_DELAY,
    ) as client:
        await client.subscribe(f"{p.ROOT}/node/+/down/#", qos=1)
        for name in names:
            await client.publish(p.up(name, p.PRESENCE), p.encode({"state": p.ONLINE, "session": name}), 1)
            node_obj = node_object(NodeConfig(name, address="10.0.0.1"))
            await client.publish(p.up(name, p.REGISTER), p.encode({"id": name, "node": orjson.dumps(node_obj)}), 1)
        replies = 0
        async for message in client.messages:
            route = p.parse(message.topic.value)
            if route is None:
                continue
            body = p.decode(message.payload)  # type: ignore[arg-type]
            if route.kind == p.REPLY:
                replies += 1
                if replies == nodes:
                    registered.set()
            elif route.kind == p.PODS:
                for raw in body["pods"]:
                    pod = orjson.loads(raw)
                    uid = pod["metadata"]["uid"]
                    if uid in reported or pod["metadata"].get("deletionTimestamp"):
                        continue
                    reported.add(uid)
                    status = running_status(pod, "10.0.0.1", time.time())
                    report = {"seq": 1, "namespace": "default", "name": pod["metadata"]["name"], "uid": uid}
                    report |= {"status": orjson.dumps(status), "final": False}
                    sending = asyncio.create_task(client.publish(p.up(route.node, p.POD_STATUS), p.encode(report), 1))
                    in_flight.add(sending)
                    sending.add_done_callback(in_flight.discard)


def converge_mqtt(work: Path, nodes: int) -> float:
    broker = start_broker(work)
    server = start_server(work, "--mqtt-broker", broker_url(broker), "--node-monitor-grace-period", "600s")

    async def run() -> float:
        registered = asyncio.Event()
        fleet = asyncio.create_task(_mqtt_fleet(broker, nodes, registered))
        await asyncio.wait_for(registered.wait(), 600)
        try:
            return await asyncio.to_thread(_converge, server, nodes)
        finally:
            fleet.cancel()
            await asyncio.gather(fleet, return_exceptions=True)

    try:
        return uvloop.run(run())
    finally:
        server.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--heartbeats", type=int, default=100_000, help="per publisher process (two of them)")
    parser.add_argument("--publish", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        host, port, password, nodes, count, offset = args.publish
        publish_heartbeats(host, int(port), password, int(nodes), int(count), int(offset))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        times = detection(Path(tmp) / "detect", args.kills)
        rows.append(
            (
                f"failure detection, kill -9 -> Unknown ({len(times)} kills)",
                f"p50 {statistics.median(times) * 1000:.0f} ms, p99 {percentile(times, 0.99) * 1000:.0f} ms",
                "≤ 1 s (stretch ≤ 100 ms)",
            )
        )
        rate, taken, writes, cpu = intake(Path(tmp) / "intake", args.nodes, args.heartbeats, 2)
        rows.append(
            (
                f"heartbeat intake over MQTT ({taken:,} msgs, {args.nodes:,} nodes)",
                f"{rate:,.0f}/s ({writes:,} Lease writes, {cpu:.1f} CPU s)",
                "20,000/s",
            )
        )
        http = converge_http(Path(tmp) / "http", args.nodes)
        mqtt = converge_mqtt(Path(tmp) / "mqtt", args.nodes)
        rows.append((f"DaemonSet converge, {args.nodes:,} simulated nodes, HTTP", f"{http:.1f} s", ""))
        rows.append((f"DaemonSet converge, {args.nodes:,} simulated nodes, MQTT", f"{mqtt:.1f} s", ""))
    print_table(("measure", "result", "target"), rows)


if __name__ == "__main__":
    main()
