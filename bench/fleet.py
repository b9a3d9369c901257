"""``python -m bench.fleet``: the fleet benchmark (issue #6), one table.

Each run starts a fresh server (TLS, authentication, durable store) and ``miniplane simulate`` with N
nodes (1 s simulated pod start), then, in order:
- converge (T3): a DaemonSet is created; seconds until its status shows all N pods ready;
- idle (T1, T2): N nodes heartbeating with N pods; the server's CPU over 20 s and its RSS, from
  /proc; memory per node = (RSS now - RSS of the empty server) / N;
- reads (T8): single GETs of a pod and PUTs of a Lease, one at a time, p99; the real
  ``kubectl get pods -A`` (all N pods), wall time, as kubectl pages it (500 a request, its own
  client-side limit of 5 requests/s after a burst of 10) and in one request (``--chunk-size=0``);
- rollout (T5): a new image with ``maxUnavailable: 10%``; seconds until every pod is updated and available;
- join (T4): 500 more nodes join at 50/s (a second simulator, no start delay); per node, from the
  bench seeing its Node to seeing its daemon pod Running and Ready, p50 and p99;
- restart (T9): ``kill -9`` of the server, restart on the same data dir and port; seconds from the
  kill until every node renewed its Lease again, and how many pods were deleted or recreated;
- intake (T7, largest N only): the simulator restarted with the heartbeat interval that offers
  5,000 Lease renewals/s; renewals/s over 60 s as the server counts them (``/metrics``), the
  nodes' p99 renewal latency, and the server's and the simulator's CPU meanwhile (on two cores the
  simulator, itself Python over TLS, may be what limits the rate);
- waves (T5): 100 nodes, ``maxUnavailable: 1``: the rollout's seconds, and the time per wave
  beyond the 1 s start (one run: the figure is already an average over 100 waves).
The other figures are the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.common import daemonset, print_table, proc_cpu_seconds, proc_rss_mib
from miniplane.metrics import parse
from miniplane.simulate.stats import quantile, window
from tests.cluster import REPO, Server, start_server

NS = "bench"
DS_PATH = f"/apis/apps/v1/namespaces/{NS}/daemonsets"
IDLE_SECONDS = 20.0
INTAKE_SECONDS = 60.0
INTAKE_RATE = 5_000
JOINERS = 500
JOIN_RATE = 50.0
WAVE_NODES = 100
Obj = dict[str, Any]
Results = dict[str, float]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def poll(check: Callable[[], Awaitable[bool]], limit: float, what: str, interval: float = 0.1) -> float:
    """Call ``check`` until it holds (TimeoutError after ``limit`` s); returns the monotonic time it held."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {limit:.0f} s")
        await asyncio.sleep(interval)
    return time.monotonic()


@dataclass
class Simulator:
    """A ``miniplane simulate`` subprocess and its stats file."""

    process: subprocess.Popen[bytes]
    stats_file: Path

    @classmethod
    def start(cls, server: Server, nodes: int, work: Path, *flags: str) -> Simulator:
        stats_file = work / f"simulate-{time.monotonic_ns()}.json"
        with open(work / "simulate.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "miniplane.cli", "simulate", "--server", server.url, "--token-file",
                 str(server.data_dir / "node-token"), "--nodes", str(nodes), "--stats-file", str(stats_file), *flags],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        return cls(process, stats_file)

    def stats(self) -> Obj:
        try:
            result: Obj = orjson.loads(self.stats_file.read_bytes())
            return result
        except (OSError, orjson.JSONDecodeError):
            return {}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@dataclass
class Run:
    """One server with its simulated fleet."""

    server: Server
    work: Path
    nodes: int
    http: aiohttp.ClientSession
    simulators: list[Simulator] = field(default_factory=list)
    results: Results = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.server.process.pid

    async def stop(self) -> None:
        """Stop the simulators, the bench's connection pool and the server."""
        for simulator in self.simulators:
            simulator.stop()
        await self.http.close()
        self.server.stop()

    async def get(self, url: str) -> Obj:
        async with self.http.get(url) as reply:
            assert reply.status == 200, await reply.text()
            result: Obj = orjson.loads(await reply.read())
            return result

    async def send(self, method: str, url: str, body: Obj, content_type: str = "application/json") -> Obj:
        headers = {"Content-Type": content_type}
        async with self.http.request(method, url, data=orjson.dumps(body), headers=headers) as reply:
            assert reply.status < 300, await reply.text()
            result: Obj = orjson.loads(await reply.read())
            return result

    async def schedulable_nodes(self) -> int:
        items = (await self.get("/api/v1/nodes"))["items"]
        return sum(not (n.get("spec") or {}).get("taints") and _ready(n) for n in items)

    async def ds_done(self, count: int) -> bool:
        ds = await self.get(f"{DS_PATH}/agent")
        status = ds.get("status") or {}
        keys = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberAvailable",
                "updatedNumberScheduled")  # fmt: skip
        return status.get("observedGeneration") == ds["metadata"]["generation"] and all(
            status.get(k) == count for k in keys
        )

    async def pod_uids(self) -> dict[str, str]:
        items = (await self.get(f"/api/v1/namespaces/{NS}/pods"))["items"]
        return {p["metadata"]["name"]: p["metadata"]["uid"] for p in items}

    async def metrics(self) -> dict[str, dict[tuple[str, ...], float]]:
        async with self.http.get("/metrics") as reply:
            return parse(await reply.text())


def _ready(obj: Obj) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def converge(run: Run) -> None:
    await run.send("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    start = time.monotonic()
    await run.send("POST", DS_PATH, daemonset("10%"))
    done = await poll(lambda: run.ds_done(run.nodes), 900, "converge")
    run.results["converge"] = done - start


async def idle(run: Run, empty_rss: float) -> None:
    await asyncio.sleep(5)
    simulator = run.simulators[0].process.pid
    cpu0, sim0, t0 = proc_cpu_seconds(run.pid), proc_cpu_seconds(simulator), time.monotonic()
    await asyncio.sleep(IDLE_SECONDS)
    seconds = time.monotonic() - t0
    run.results["idle_cpu"] = 100 * (proc_cpu_seconds(run.pid) - cpu0) / seconds
    run.results["sim_cpu"] = 100 * (proc_cpu_seconds(simulator) - sim0) / seconds
    rss = proc_rss_mib(run.pid)
    run.results["rss"] = rss
    run.results["per_node_kib"] = (rss - empty_rss) * 1024 / run.nodes


async def reads(run: Run) -> None:
    pods = list(await run.pod_uids())
    lease_url = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
    lease = await run.send("POST", lease_url, {"metadata": {"name": "probe"}, "spec": {"holderIdentity": "bench"}})
    gets: list[float] = []
    puts: list[float] = []
    for i in range(200):
        start = time.perf_counter()
        await run.get(f"/api/v1/namespaces/{NS}/pods/{pods[i % len(pods)]}")
        gets.append(time.perf_counter() - start)
        lease["spec"]["leaseDurationSeconds"] = i + 1
        start = time.perf_counter()
        lease = await run.send("PUT", f"{lease_url}/probe", lease)
        puts.append(time.perf_counter() - start)
        await asyncio.sleep(0.02)
    run.results["get_p99"] = percentile(gets, 0.99) * 1000
    run.results["put_p99"] = percentile(puts, 0.99) * 1000
    run.results["kubectl"] = await _kubectl_wall(run, "get", "pods", "-A")
    run.results["kubectl_one_page"] = await _kubectl_wall(run, "get", "pods", "-A", "--chunk-size=0")


async def _kubectl_wall(run: Run, *args: str) -> float:
    """Median wall time of three runs of the real kubectl listing every pod."""
    walls = []
    for _ in range(3):
        start = time.monotonic()
        result = await asyncio.to_thread(run.server.kubectl, *args, timeout=120)
        walls.append(time.monotonic() - start)
        assert result.returncode == 0 and result.stdout.count("\n") >= run.nodes, result.stderr
    return statistics.median(walls)


async def rollout(run: Run, count: int, key: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "busybox:2"}]}}}}
    start = time.monotonic()
    await run.send("PATCH", f"{DS_PATH}/agent", patch, "application/strategic-merge-patch+json")
    done = await poll(lambda: run.ds_done(count), 1800, "rollout")
    run.results[key] = done - start


class JoinWatch:
    """The bench's own view of nodes joining and their daemon pods becoming Running and Ready."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.seen: dict[str, float] = {}  # node → when its Node arrived
        self.running: dict[str, float] = {}  # node → when its daemon pod was Running and Ready

    async def nodes(self, run: Run, rv: str) -> None:
        async for kind, node in _events(run, "/api/v1/nodes", rv):
            name = node["metadata"]["name"]
            if kind == "ADDED" and name.startswith(self.prefix):
                self.seen.setdefault(name, time.monotonic())

    async def pods(self, run: Run, rv: str) -> None:
        async for _, pod in _events(run, f"/api/v1/namespaces/{NS}/pods", rv):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            phase = (pod.get("status") or {}).get("phase")
            if node.startswith(self.prefix) and phase == "Running" and _ready(pod):
                self.running.setdefault(node, time.monotonic())


async def _events(run: Run, url: str, rv: str) -> Any:
    params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": "3600"}
    async with run.http.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as stream:
        async for line in stream.content:
            event = orjson.loads(line)
            yield event["type"], event["object"]


async def join(run: Run) -> None:
    watch = JoinWatch("join-")
    node_rv = (await run.get("/api/v1/nodes?limit=1"))["metadata"]["resourceVersion"]
    pod_rv = (await run.get(f"/api/v1/namespaces/{NS}/pods?limit=1"))["metadata"]["resourceVersion"]
    tasks = [asyncio.create_task(watch.nodes(run, node_rv)), asyncio.create_task(watch.pods(run, pod_rv))]
    flags = ("--name-prefix", "join-", "--join-rate", str(JOIN_RATE), "--pod-start-delay", "0s")
    run.simulators.append(Simulator.start(run.server, JOINERS, run.work, *flags))

    async def joined() -> bool:
        return len(watch.running) >= JOINERS

    await poll(joined, JOINERS / JOIN_RATE + 120, "every joining node's pod Running")
    for task in tasks:
        task.cancel()
    latencies = [watch.running[node] - seen for node, seen in watch.seen.items() if node in watch.running]
    run.results["join_p50"] = percentile(latencies, 0.5) * 1000
    run.results["join_p99"] = percentile(latencies, 0.99) * 1000
    await poll(lambda: run.ds_done(run.nodes + JOINERS), 120, "status with the joined nodes")


async def restart(run: Run) -> None:
    nodes = run.nodes + JOINERS
    before = await run.pod_uids()
    port = run.server.url.rsplit(":", 1)[1]
    run.server.process.kill()
    killed = time.monotonic()
    killed_at = datetime.now(UTC)
    run.server.process.wait()
    await run.http.close()
    restarted = await asyncio.to_thread(start_server, run.server.data_dir, "--port", port, timeout=120)
    run.server.process = restarted.process
    run.http = session(run.server)
    done = await _all_renewed_since(run, killed_at, nodes)
    run.results["restart"] = done - killed
    await asyncio.sleep(5)
    after = await run.pod_uids()
    churned = {name for name, uid in before.items() if after.get(name) != uid} | (after.keys() - before.keys())
    run.results["churned"] = len(churned)


async def _all_renewed_since(run: Run, since: datetime, count: int) -> float:
    """The monotonic time at which ``count`` node Leases have a ``renewTime`` after ``since``: one list,
    then the watch from it (polling full lists of 10,000 Leases would load the server it measures)."""
    url = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    renewed: set[str] = set()

    def note(lease: Obj) -> None:
        if datetime.fromisoformat(lease["spec"]["renewTime"]) > since:
            renewed.add(lease["metadata"]["name"])

    listed = await run.get(url)
    for lease in listed["items"]:
        note(lease)
    if len(renewed) >= count:
        return time.monotonic()
    async with asyncio.timeout(300):
        async for _, lease in _events(run, url, listed["metadata"]["resourceVersion"]):
            note(lease)
            if len(renewed) >= count:
                return time.monotonic()
    raise TimeoutError("the Lease watch ended before every node was attached again")


async def intake(run: Run) -> None:
    for simulator in run.simulators:
        simulator.stop()
    interval = f"{run.nodes / INTAKE_RATE * 1000:.0f}ms"
    simulator = Simulator.start(run.server, run.nodes, run.work, "--heartbeat-interval", interval)
    run.simulators = [simulator]

    async def registered() -> bool:
        return simulator.stats().get("registered") == run.nodes

    await poll(registered, 300, "the fleet registered again", interval=0.5)
    await asyncio.sleep(2 * run.nodes / INTAKE_RATE + 3)  # every node renewed at least twice: steady state
    renewals0 = (await run.metrics())["miniplane_node_lease_renewals_total"][()]
    stats0, t0 = simulator.stats(), time.monotonic()
    cpu0, sim0 = proc_cpu_seconds(run.pid), proc_cpu_seconds(simulator.process.pid)
    await asyncio.sleep(INTAKE_SECONDS)
    renewals1 = (await run.metrics())["miniplane_node_lease_renewals_total"][()]
    stats1, seconds = simulator.stats(), time.monotonic() - t0
    run.results["intake"] = (renewals1 - renewals0) / seconds
    run.results["intake_cpu"] = 100 * (proc_cpu_seconds(run.pid) - cpu0) / seconds
    run.results["intake_sim_cpu"] = 100 * (proc_cpu_seconds(simulator.process.pid) - sim0) / seconds
    p99 = quantile(window(stats0["renewal_latency"], stats1["renewal_latency"]), 0.99)
    run.results["intake_p99"] = (p99 or 0.0) * 1000


def session(server: Server) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=16, ssl=server.ssl_context() or True)
    return aiohttp.ClientSession(server.url, connector=connector)


async def fleet_run(work: Path, nodes: int, with_intake: bool) -> Results:
    server = start_server(work / "data")
    empty_rss = proc_rss_mib(server.process.pid)
    run = Run(server, work, nodes, session(server))
    try:
        simulator = Simulator.start(server, nodes, work, "--pod-start-delay", "1s")
        run.simulators.append(simulator)
        start = time.monotonic()
        # the simulator's own count first: listing every Node each second would load the server
        await poll(lambda: _registered(simulator, nodes), 600, "every node registered", interval=0.2)
        await poll(lambda: _count_is(run.schedulable_nodes(), nodes), 600, "every node Ready", interval=1.0)
        run.results["registered"] = time.monotonic() - start
        steps = [
            partial(converge, run),
            partial(idle, run, empty_rss),
            partial(reads, run),
            partial(rollout, run, nodes, "rollout"),
            partial(join, run),
            partial(restart, run),
        ]
        if with_intake:
            steps.append(partial(intake, run))
        for step in steps:
            await step()
            print(f"  {nodes:,} nodes: {run.results}", file=sys.stderr, flush=True)
        return run.results
    finally:
        await run.stop()


async def _registered(simulator: Simulator, nodes: int) -> bool:
    return bool(simulator.stats().get("registered", 0) >= nodes)


async def _count_is(count: Awaitable[int], expected: int) -> bool:
    return await count >= expected


async def waves_run(work: Path) -> Results:
    server = start_server(work / "data")
    run = Run(server, work, WAVE_NODES, session(server))
    try:
        run.simulators.append(Simulator.start(server, WAVE_NODES, work, "--pod-start-delay", "1s"))
        await poll(lambda: _count_is(run.schedulable_nodes(), WAVE_NODES), 120, "every node Ready", interval=0.5)
        await run.send("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
        await run.send("POST", DS_PATH, daemonset(1))
        await poll(lambda: run.ds_done(WAVE_NODES), 300, "converge")
        await rollout(run, WAVE_NODES, "waves")
        run.results["wave_overhead"] = (run.results["waves"] / WAVE_NODES - 1.0) * 1000
        return run.results
    finally:
        await run.stop()


def median(runs: list[Results], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def table(by_nodes: dict[int, list[Results]], waves: list[Results]) -> list[list[str]]:
    """Rows: scenario, N, median, target (stretch), reference."""
    rows: list[list[str]] = []
    for n, runs in by_nodes.items():
        size = f"{n:,}"
        k3s = "2-core k3s is sized for ~350 agents"
        rows += [
            ["registration: all nodes Ready (s)", size, f"{median(runs, 'registered'):.1f}", "", ""],
            ["converge (T3): all pods Running, status complete (s)", size, f"{median(runs, 'converge'):.1f}",
             "≤10 at 10,000 (5)", "Kubernetes' DaemonSet controller (QPS 20): ≥500 at 10,000"],
            ["idle (T1): server CPU (% of one core)", size, f"{median(runs, 'idle_cpu'):.1f}",
             "≤50 at 10,000 (≤100 at 50,000)", k3s],
            ["idle (T2): server RSS, N nodes + pods + Leases (MiB)", size, f"{median(runs, 'rss'):.0f}",
             "≤256 at 10,000 (128)", k3s],
            ["idle: server memory per node (KiB)", size, f"{median(runs, 'per_node_kib'):.1f}", "", ""],
            ["idle: the simulator's own CPU (% of one core)", size, f"{median(runs, 'sim_cpu'):.1f}", "", ""],
            ["reads (T8): single GET p99 (ms)", size, f"{median(runs, 'get_p99'):.1f}", "≤50 (10)", ""],
            ["reads (T8): single PUT p99 (ms)", size, f"{median(runs, 'put_p99'):.1f}", "≤50 (10)", ""],
            ["reads (T8): kubectl get pods -A (s)", size, f"{median(runs, 'kubectl'):.2f}", "≤2 at 10,000 (1)",
             "kubectl pages by 500 and throttles itself to 5 requests/s after 10: ≥2 s at 10,000"],
            ["reads (T8): kubectl get pods -A --chunk-size=0 (s)", size, f"{median(runs, 'kubectl_one_page'):.2f}",
             "", ""],
            ["rollout (T5): maxUnavailable 10%, 1 s start (s)", size, f"{median(runs, 'rollout'):.1f}",
             "≤15 at 1,000 (12); ≤25 at 10,000 (15)", ""],
            [f"join (T4): {JOINERS} nodes at {JOIN_RATE:.0f}/s, node → pod Running p50 (ms)", size,
             f"{median(runs, 'join_p50'):.0f}", "", ""],
            [f"join (T4): {JOINERS} nodes at {JOIN_RATE:.0f}/s, node → pod Running p99 (ms)", size,
             f"{median(runs, 'join_p99'):.0f}", "≤1,000 at 10,000 (250)", ""],
            ["restart (T9): kill -9 → every node attached (s)", f"{n + JOINERS:,}", f"{median(runs, 'restart'):.1f}",
             "≤15 at 10,000 (5)", ""],
            ["restart (T9): pods deleted or recreated", f"{n + JOINERS:,}", f"{median(runs, 'churned'):.0f}", "0", ""],
        ]  # fmt: skip
        if all("intake" in r for r in runs):
            rows += [
                [f"intake (T7): Lease renewals/s sustained {INTAKE_SECONDS:.0f} s (offered {INTAKE_RATE:,}/s)", size,
                 f"{median(runs, 'intake'):,.0f}", "≥5,000 (10,000)", "Nomad caps heartbeats at ~50/s"],
                ["intake (T7): renewal p99, as the nodes see it (ms)", size, f"{median(runs, 'intake_p99'):.1f}",
                 "≤50", ""],
                ["intake (T7): server / simulator CPU meanwhile (% of one core)", size,
                 f"{median(runs, 'intake_cpu'):.0f} / {median(runs, 'intake_sim_cpu'):.0f}", "", ""],
            ]  # fmt: skip
    if waves:
        rows += [
            ["rollout (T5): maxUnavailable 1, 1 s start (s)", f"{WAVE_NODES}", f"{median(waves, 'waves'):.1f}", "", ""],
            ["rollout (T5): time per wave beyond the 1 s start (ms)", f"{WAVE_NODES}",
             f"{median(waves, 'wave_overhead'):.0f}", "no per-wave overhead", ""],
        ]  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the table shows the median")
    parser.add_argument("--no-waves", action="store_true", help="skip the 100-node maxUnavailable 1 rollout")
    args = parser.parse_args()
    started = time.monotonic()
    by_nodes: dict[int, list[Results]] = {}
    waves: list[Results] = []
    for repeat in range(args.repeat):
        for n in args.nodes:
            with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
                result = asyncio.run(fleet_run(Path(tmp), n, with_intake=n == max(args.nodes)))
            by_nodes.setdefault(n, []).append(result)
            print(f"run {repeat + 1}/{args.repeat}, {n:,} nodes: {result}", file=sys.stderr, flush=True)
    if not args.no_waves:  # one run: its figure is already an average over 100 waves
        with tempfile.TemporaryDirectory(prefix="bench-waves-") as tmp:
            waves.append(asyncio.run(waves_run(Path(tmp))))
        print(f"waves: {waves[-1]}", file=sys.stderr, flush=True)
    print(f"fleet benchmark: {args.repeat} run(s) in {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs")
    print_table(["scenario", "N", "median", "target (stretch)", "reference"], table(by_nodes, waves))


if __name__ == "__main__":
    main()
