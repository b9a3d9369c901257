"""``python -m bench.controller``: the DaemonSet controller and the binder at scale, as a table.

Scenarios, each on a fresh server (nodes are created through the API, Ready, with a one-hour
heartbeat grace; the bench plays the kubelets, marking every bound pod Running and Ready):
- a DaemonSet over 1,000 and 10,000 nodes: seconds until every pod exists, until every pod is
  Running (its status PATCH answered), until the status is complete (desired = current = ready =
  available = updated = nodes); server and bench CPU seconds;
- a rolling update over 1,000 nodes at maxUnavailable 10%: seconds from the template change until
  the status shows every pod updated and available again.

``--profile FILE`` samples the server with py-spy (which must be installed) from the DaemonSet POST
to the complete status: ``FILE.txt`` gets collapsed stacks, any other name speedscope JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.common import daemonset, print_table, proc_cpu_seconds, proc_rss_mib
from tests.cluster import Server, start_server

NS = "bench"
DS_PATH = f"/apis/apps/v1/namespaces/{NS}/daemonsets"
Obj = dict[str, Any]


def node(name: str) -> Obj:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": stamp,
             "lastTransitionTime": stamp}  # fmt: skip
    allocatable = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"conditions": [ready], "allocatable": allocatable, "capacity": allocatable},
    }


def ready_status() -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    conditions = [{"type": t, "status": "True", "lastTransitionTime": stamp} for t in ("PodScheduled", "Ready")]
    return orjson.dumps({"status": {"phase": "Running", "startTime": stamp, "conditions": conditions}})


class Kubelets:
    """Watches the bench namespace's pods, counts them and marks bound ones Running and Ready."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.live: set[str] = set()
        self.started: set[str] = set()  # pods marked Running once, as a kubelet starts a pod once
        self.running = 0  # status writes answered
        self.slots = asyncio.Semaphore(32)
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, rv: str) -> None:
        while True:
            url = f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={rv}&timeoutSeconds=3600"
            async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=None)) as stream:
                async for line in stream.content:
                    event = orjson.loads(line)
                    pod = event["object"]
                    rv = pod["metadata"]["resourceVersion"]
                    self._handle(event["type"], pod)

    def _handle(self, kind: str, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        if kind == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            self.live.discard(name)
            self.started.discard(name)
            return
        self.live.add(name)
        if pod["spec"].get("nodeName") and name not in self.started:
            self.started.add(name)
            task = asyncio.create_task(self._mark_ready(name))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _mark_ready(self, name: str) -> None:
        async with self.slots:
            url = f"/api/v1/namespaces/{NS}/pods/{name}/status"
            headers = {"Content-Type": "application/merge-patch+json"}
            async with self.http.patch(url, data=ready_status(), headers=headers) as reply:
                await reply.read()
                self.running += reply.status == 200


async def wait_until(check: Callable[[], Awaitable[bool]], limit: float, what: str) -> float:
    """Poll ``check`` every 50 ms for at most ``limit`` seconds; returns the monotonic time it held."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)
    return time.monotonic()


async def status_done(http: aiohttp.ClientSession, nodes: int) -> bool:
    async with http.get(f"{DS_PATH}/agent") as reply:
        ds = orjson.loads(await reply.read())
    status = ds.get("status") or {}
    counters = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberAvailable",
                "updatedNumberScheduled")  # fmt: skip
    return status.get("observedGeneration") == ds["metadata"]["generation"] and all(
        status.get(k) == nodes for k in counters
    )


async def create_nodes(http: aiohttp.ClientSession, count: int) -> None:
    names = iter(range(count))

    async def worker() -> None:
        for i in names:
            async with http.post("/api/v1/nodes", data=orjson.dumps(node(f"node-{i:05d}"))) as reply:
                assert reply.status == 201, await reply.text()

    await asyncio.gather(*(worker() for _ in range(32)))

    async def untainted() -> bool:  # the node lifecycle controller lifts the not-ready taint of Ready nodes
        async with http.get("/api/v1/nodes") as reply:
            items = orjson.loads(await reply.read())["items"]
        return sum(not (n.get("spec") or {}).get("taints") for n in items) == count

    await wait_until(untainted, 120, "nodes untainted")


def start_profiler(pid: int, output: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the server into ``output`` (``.txt``: collapsed stacks; else speedscope JSON)."""
    fmt = "raw" if output.endswith(".txt") else "speedscope"
    command = ["py-spy", "record", "--pid", str(pid), "--output", output, "--format", fmt, "--rate", "200"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    """Make py-spy write its output and wait for it."""
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(60)


async def scenario(server: Server, nodes: int, rolling: bool, profile: str | None = None) -> list[tuple[str, str, str]]:
    pid = server.process.pid
    connector = aiohttp.TCPConnector(limit=0, ssl=server.ssl_context() or True)
    async with aiohttp.ClientSession(server.url, connector=connector) as http:
        await create_nodes(http, nodes)
        async with http.post("/api/v1/namespaces", data=orjson.dumps({"metadata": {"name": NS}})) as reply:
            assert reply.status == 201
        async with http.get(f"/api/v1/namespaces/{NS}/pods") as reply:
            rv = orjson.loads(await reply.read())["metadata"]["resourceVersion"]
        kubelets = Kubelets(http)
        watcher = asyncio.create_task(kubelets.run(rv))
        profiler = start_profiler(pid, profile) if profile else None
        cpu0, own0, start = proc_cpu_seconds(pid), proc_cpu_seconds(os.getpid()), time.monotonic()
        async with http.post(DS_PATH, data=orjson.dumps(daemonset("10%", grace_period=0))) as reply:
            assert reply.status == 201, await reply.text()

        async def all_pods() -> bool:
            return len(kubelets.live) >= nodes

        async def all_running() -> bool:
            return kubelets.running >= nodes

        created = await wait_until(all_pods, 600, "every pod")
        running = await wait_until(all_running, 600, "every pod Running")
        done = await wait_until(lambda: status_done(http, nodes), 600, "complete status")
        stop_profiler(profiler)
        rows = [
            (f"{nodes:,} nodes: every pod exists (s)", f"{created - start:.1f}", "from the DaemonSet POST"),
            (f"{nodes:,} nodes: every pod Running (s)", f"{running - start:.1f}", "bound, and its status written"),
            (f"{nodes:,} nodes: status complete (s)", f"{done - start:.1f}", "desired=current=ready=available"),
            (f"{nodes:,} nodes: server CPU (s)", f"{proc_cpu_seconds(pid) - cpu0:.1f}", "/proc, create to complete"),
            (f"{nodes:,} nodes: bench CPU (s)", f"{proc_cpu_seconds(os.getpid()) - own0:.1f}", "the kubelets' side"),
            (f"{nodes:,} nodes: server RSS (MiB)", f"{proc_rss_mib(pid):.0f}", "/proc, when complete"),
        ]
        if rolling:
            cpu0, start = proc_cpu_seconds(pid), time.monotonic()
            patch = {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "busybox:2"}]}}}}
            headers = {"Content-Type": "application/strategic-merge-patch+json"}
            async with http.patch(f"{DS_PATH}/agent", data=orjson.dumps(patch), headers=headers) as reply:
                assert reply.status == 200, await reply.text()
            done = await wait_until(lambda: status_done(http, nodes), 900, "rollout")
            rows.append((f"{nodes:,} nodes: rolling update, maxUnavailable 10% (s)", f"{done - start:.1f}", ""))
            rows.append((f"{nodes:,} nodes: rolling update server CPU (s)", f"{proc_cpu_seconds(pid) - cpu0:.1f}", ""))
        watcher.cancel()
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--rolling-nodes", type=int, default=1_000, help="the scenario that also rolls out")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="sample the server with py-spy from the DaemonSet POST to complete status (FILE.txt: collapsed stacks)",
    )
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    for nodes in args.nodes:
        with tempfile.TemporaryDirectory() as tmp:
            server = start_server(Path(tmp) / "data", "--node-monitor-grace-period", "1h")
            try:
                rows += asyncio.run(scenario(server, nodes, nodes == args.rolling_nodes, args.profile))
            finally:
                server.stop()
    print_table(["scenario", "result", "how"], rows)


if __name__ == "__main__":
    main()
