"""``make bench-agent``: one real agent's cost at idle with 10 pods, and pod start latency.

- idle: agent RSS and CPU % of one core over a quiet window while it runs 10 pods (the per-container
  shims are reported separately), measured from /proc;
- start latency: from the create of a pod bound to the node (spec.nodeName set, so no scheduling
  step) until a watch sees it Running, p50 and p99 over repeated pods.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench.common import print_table, proc_cpu_seconds, proc_rss_mib
from tests.cluster import Server, start_agent, start_server, wait_for

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "agent"}},
        "spec": {
            "nodeName": "bench-node",
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }


def shim_pids() -> list[int]:
    """The container shims running on this machine (they are detached from the agent; run the bench alone)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"agent.runtime.shim" in cmdline and b"run" in cmdline:
                out.append(int(entry.name))
    return out


async def start_latencies(server: Server, count: int) -> list[float]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(ssl=server.ssl_context() or True)
    async with aiohttp.ClientSession(server.url, connector=connector) as http:
        async with http.get(PODS) as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        created: dict[str, float] = {}
        running: dict[str, float] = {}
        done = asyncio.Event()

        async def watch() -> None:
            async with http.get(f"{PODS}?watch=true&resourceVersion={rv}&labelSelector=bench%3Dlatency") as r:
                async for line in r.content:
                    event = orjson.loads(line)
                    obj = event["object"]
                    name = obj["metadata"]["name"]
                    if obj.get("status", {}).get("phase") == "Running" and name not in running:
                        running[name] = time.perf_counter()
                        if len(running) == count:
                            done.set()
                            return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        for i in range(count):
            body = pod(f"lat-{i}")
            body["metadata"]["labels"] = {"bench": "latency"}  # type: ignore[index]
            created[f"lat-{i}"] = time.perf_counter()
            async with http.post(PODS, data=orjson.dumps(body)) as r:
                assert r.status == 201, await r.text()
            await asyncio.sleep(0.05)
        await asyncio.wait_for(done.wait(), 120)
        watcher.cancel()
        latencies = [running[n] - created[n] for n in created]
        async with http.delete(f"{PODS}?labelSelector=bench%3Dlatency") as r:
            await r.read()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--latency-pods", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        agent = start_agent(server, "bench-node", "--heartbeat-interval", "10s")
        try:
            wait_for(lambda: server.kubectl("get", "node", "bench-node").returncode == 0, what="node")
            for i in range(10):
                server.kubectl("create", "-f", "-", input=orjson.dumps(pod(f"idle-{i}")).decode(), check=True)
            wait_for(
                lambda: server.kubectl("get", "pods", "-l", "bench=agent").stdout.count("Running") == 10,
                timeout=60,
                what="10 running pods",
            )
            time.sleep(2)
            pid = agent.process.pid
            cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
            time.sleep(args.idle_seconds)
            cpu = (proc_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
            shims = shim_pids()
            shim_rss = sum(proc_rss_mib(p) for p in shims)
            rows = [
                ("agent RSS with 10 pods (MiB)", f"{proc_rss_mib(pid):.0f}", "/proc, agent process"),
                ("agent CPU at idle (% of one core)", f"{cpu:.2f}", f"/proc, over {args.idle_seconds:.0f} s"),
                ("container shims (count, total MiB)", f"{len(shims)}, {shim_rss:.0f}", "/proc"),
            ]
            latencies = asyncio.run(start_latencies(server, args.latency_pods))
            rows.append(
                (
                    "pod start latency p50 (ms)",
                    f"{statistics.median(latencies) * 1000:.0f}",
                    f"{len(latencies)} pods, create (bound) → Running",
                )
            )
            rows.append(("pod start latency p99 (ms)", f"{percentile(latencies, 0.99) * 1000:.0f}", ""))
        finally:
            agent.stop()
            server.stop()
    print_table(["scenario", "result", "how"], rows)


if __name__ == "__main__":
    main()
