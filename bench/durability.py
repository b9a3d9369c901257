"""``python -m bench.durability``: what durability costs, printed as a table.

Scenarios: pod creates/s from 16 concurrent writers straight against the store (MemoryStore, and
DurableStore with and without fsync) and through the HTTP API of a server process using each store;
then recovery time of a DurableStore holding 100,000 pods, from the write-ahead log alone and from a
snapshot. Rates are the median of repeated runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson
import uvloop
from aiohttp import web

from bench.api import NS_PODS, pod, run_concurrently
from bench.common import print_table
from miniplane.api.app import SERVICE, create_app
from miniplane.server import bootstrap
from miniplane.store.base import Store
from miniplane.store.durable import DurableStore
from miniplane.store.memory import MemoryStore

WRITERS = 16
KINDS = ("memory", "durable, no fsync", "durable")
Row = tuple[str, str, str]


def open_store(kind: str, data_dir: Path) -> Store:
    """A fresh store of one of the ``KINDS``."""
    if kind == "memory":
        return MemoryStore()
    return DurableStore(data_dir, fsync=kind == "durable")


def creator(store: Store) -> Callable[[int], Awaitable[None]]:
    """Creates pod number i in ``store``."""

    async def create(i: int) -> None:
        await store.create("pods", pod(f"p-{i:07d}"))

    return create


async def store_rate(kind: str, data_dir: Path, writes: int) -> tuple[float, str]:
    """Creates/s from WRITERS concurrent writers, and how the log grouped them."""
    store = open_store(kind, data_dir)
    rate = await run_concurrently(writes, WRITERS, creator(store))
    note = ""
    if isinstance(store, DurableStore):
        log = store.log_statistics()
        note = f"{log.records / log.batches:.1f} writes per batch, {log.syncs:,} fsyncs"
    await store.close()
    return rate, note


async def serve(kind: str, data_dir: Path) -> None:
    """The API over one store on a free port; prints the URL, serves until stdin closes."""
    store = open_store(kind, data_dir)
    app = create_app(store)
    await bootstrap(app[SERVICE])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
    await store.close()


async def http_rate(url: str, writes: int, prefix: str) -> float:
    """Pod creates/s through the API from WRITERS concurrent clients."""
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=0)) as http:

        async def create(i: int) -> None:
            async with http.post(NS_PODS, data=orjson.dumps(pod(f"{prefix}-{i:07d}"))) as r:
                assert r.status == 201, await r.text()

        return await run_concurrently(writes, WRITERS, create)


def http_rates(kind: str, data_dir: Path, writes: int, rounds: int) -> list[float]:
    """Start a server process over a ``kind`` store and measure ``rounds`` runs of creates."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.durability", "--serve", kind, "--data-dir", str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        url = server.stdout.readline().strip()
        return [uvloop.run(http_rate(url, writes, f"r{rnd}")) for rnd in range(rounds)]
    finally:
        server.stdin.close()
        server.wait(30)


async def recovery(data_dir: Path, objects: int) -> list[Row]:
    """Fill a store with ``objects`` pods, then time reopening it from the log and from a snapshot."""
    store = DurableStore(data_dir, snapshot_every=objects + 1)
    await run_concurrently(objects, WRITERS, creator(store))
    await store.close()
    wal_bytes = sum(p.stat().st_size for p in (data_dir / "wal").iterdir())
    from_log, store = timed(lambda: DurableStore(data_dir, snapshot_every=objects + 1))
    start = time.perf_counter()
    await store.snapshot()
    snapshot_s = time.perf_counter() - start
    await store.close()
    from_snapshot, store = timed(lambda: DurableStore(data_dir))
    assert store.statistics().objects["pods"] == objects
    await store.close()
    mib = 2**20
    return [
        (f"recovery of {objects:,} pods from the log alone (s)", f"{from_log:.2f}", f"{wal_bytes / mib:.0f} MiB log"),
        (f"snapshot of {objects:,} pods (s)", f"{snapshot_s:.2f}", "rotate, capture, write in a thread"),
        (
            f"recovery of {objects:,} pods from a snapshot (s)",
            f"{from_snapshot:.2f}",
            f"{(data_dir / 'snapshot').stat().st_size / mib:.0f} MiB snapshot",
        ),
    ]


def timed(open_: Callable[[], DurableStore]) -> tuple[float, DurableStore]:
    start = time.perf_counter()
    store = open_()
    return time.perf_counter() - start, store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=20_000, help="creates per in-process run")
    parser.add_argument("--http-writes", type=int, default=4_000, help="creates per HTTP run (0: skip HTTP)")
    parser.add_argument("--objects", type=int, default=100_000, help="pods in the recovery scenario")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        uvloop.run(serve(args.serve, args.data_dir))
        return
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:  # on the disk the data dir would live on
        runs = iter(range(10**6))
        for kind in KINDS:
            results = [
                uvloop.run(store_rate(kind, Path(tmp) / f"s{next(runs)}", args.writes)) for _ in range(args.rounds)
            ]
            rate = statistics.median(r for r, _ in results)
            rows.append((f"in-process creates/s, {WRITERS} writers: {kind}", f"{rate:,.0f}", results[-1][1]))
        if args.http_writes:
            for kind in KINDS:
                rates = http_rates(kind, Path(tmp) / f"h{next(runs)}", args.http_writes, args.rounds)
                rows.append((f"HTTP creates/s, {WRITERS} clients: {kind}", f"{statistics.median(rates):,.0f}", ""))
        rows += uvloop.run(recovery(Path(tmp) / "recovery", args.objects))
    print_table(["scenario", "result", "note"], rows)


if __name__ == "__main__":
    main()
