"""``make bench-api``: API throughput of one real server process, printed as a table.

Scenarios: pod creates/s and GETs/s from 16 concurrent clients, LIST of 10,000 pods (ms), and
watch events/s delivered to 100 concurrent watchers. Each figure is the median of repeated runs;
server CPU seconds are read from /proc for the whole bench.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson

from bench.common import print_table, proc_cpu_seconds, proc_rss_mib
from tests.cluster import Server, start_server

NS_PODS = "/api/v1/namespaces/default/pods"


def pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "shard": name[-1]}},
        "spec": {"nodeName": f"node-{name[-2:]}", "containers": [{"name": "c", "image": "busybox"}]},
    }


async def run_concurrently(n: int, concurrency: int, op: Callable[[int], Awaitable[None]]) -> float:
    """Run op(0..n-1) with ``concurrency`` workers; returns ops per second."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def bench(server: Server, pods: int, watchers: int, rounds: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    connector = aiohttp.TCPConnector(limit=0, ssl=server.ssl_context() or True)
    async with aiohttp.ClientSession(server.url, connector=connector) as http:

        async def create(i: int, prefix: str) -> None:
            async with http.post(NS_PODS, data=orjson.dumps(pod(f"{prefix}-{i:06d}"))) as r:
                assert r.status == 201, await r.text()

        create_rates = []
        for rnd in range(rounds):
            create_rates.append(await run_concurrently(2000, 16, lambda i, r=rnd: create(i, f"c{r}")))
        rows.append(("creates/s (16 clients, 2,000 pods)", f"{statistics.median(create_rates):,.0f}", "median"))

        async def get(i: int) -> None:
            async with http.get(f"{NS_PODS}/c0-{i % 2000:06d}") as r:
                assert r.status == 200
                await r.read()

        get_rates = [await run_concurrently(5000, 16, get) for _ in range(rounds)]
        rows.append(("gets/s (16 clients)", f"{statistics.median(get_rates):,.0f}", "median"))

        existing = 2000 * rounds
        if pods > existing:
            await run_concurrently(pods - existing, 16, lambda i: create(i, "l"))
        list_ms = []
        for _ in range(max(rounds, 5)):
            start = time.perf_counter()
            async with http.get(NS_PODS) as r:
                body = await r.read()
            list_ms.append((time.perf_counter() - start) * 1000)
        count = len(orjson.loads(body)["items"])
        rows.append((f"list of {count:,} pods (ms)", f"{statistics.median(list_ms):.0f}", "median"))

        rates = [await watch_fanout(http, watchers, 500) for _ in range(rounds)]
        rows.append((f"watch events/s delivered to {watchers} watchers", f"{statistics.median(rates):,.0f}", "median"))
    return rows


async def watch_fanout(http: aiohttp.ClientSession, watchers: int, changes: int) -> float:
    """Open watchers on one namespace, make ``changes`` writes, time until every watcher saw them all."""
    async with http.post(
        "/api/v1/namespaces",
        data=orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "watch-"}}),
    ) as r:
        ns = (await r.json())["metadata"]["name"]
    async with http.get(f"/api/v1/namespaces/{ns}/pods") as r:
        rv = (await r.json())["metadata"]["resourceVersion"]
    ready = asyncio.Event()
    opened = 0

    async def watch() -> int:
        nonlocal opened
        seen = 0
        async with http.get(f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}") as r:
            opened += 1
            if opened == watchers:
                ready.set()
            async for _line in r.content:
                seen += 1
                if seen == changes:
                    return seen
        return seen

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await ready.wait()
    start = time.perf_counter()

    async def create(i: int) -> None:
        async with http.post(f"/api/v1/namespaces/{ns}/pods", data=orjson.dumps(pod(f"w-{i:06d}"))) as r:
            assert r.status == 201

    await run_concurrently(changes, 8, create)
    delivered = sum(await asyncio.gather(*tasks))
    return delivered / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            pid = server.process.pid
            cpu0 = proc_cpu_seconds(pid)
            rows = asyncio.run(bench(server, args.pods, args.watchers, args.rounds))
            rows.append(("server CPU seconds for the whole bench", f"{proc_cpu_seconds(pid) - cpu0:.1f}", "/proc"))
            rows.append(("server RSS after the bench (MiB)", f"{proc_rss_mib(pid):.0f}", "/proc"))
        finally:
            server.stop()
    print_table(["scenario", "result", "how"], rows)


if __name__ == "__main__":
    main()
