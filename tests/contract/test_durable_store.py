"""DurableStore against the store contract, plus what only the durable backend promises."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from miniplane.store.base import Store, StoredObject
from miniplane.store.durable import DurableStore, StoreLocked
from miniplane.store.errors import AlreadyExists, Gone, NotFound
from miniplane.store.snapshot import CorruptSnapshot
from miniplane.store.wal import CorruptLog, LogUnavailable, Record, WriteAheadLog
from tests.cluster import REPO
from tests.contract.store_contract import StoreContract, StoreFactory, node, pod, watch


class TestDurableStore(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        opened = 0

        async def make(*, history_size: int, watch_queue_size: int) -> Store:
            nonlocal opened
            opened += 1
            data_dir = tmp_path / f"store-{opened}"
            return DurableStore(data_dir, history_size=history_size, watch_queue_size=watch_queue_size)

        return make


Opener = Callable[..., DurableStore]


@pytest.fixture
async def opener(tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens DurableStores on ``tmp_path / "data"`` and closes them all after the test."""
    stores: list[DurableStore] = []

    def open_(**kwargs: Any) -> DurableStore:
        stores.append(DurableStore(tmp_path / "data", **kwargs))
        return stores[-1]

    yield open_
    for store in stores:
        await store.close()


async def write_some(store: Store, count: int, start: int = 0) -> None:
    """Creates, updates and deletes; the last write is a delete, so the rv is past every object's."""
    for i in range(start, start + count):
        await store.create("pods", pod(f"p{i}", labels={"n": str(i)}, node=f"n{i % 3}"))
        if i % 2:
            await store.update("pods", pod(f"p{i}", phase="Running"))
        await store.create("nodes", node(f"n{i}"))
        await store.delete("nodes", "", f"n{i}")


async def contents(store: Store) -> tuple[int, list[StoredObject], list[StoredObject]]:
    return store.current_rv, (await store.list("pods"))[0], (await store.list("nodes"))[0]


async def test_reopening_restores_objects_versions_and_counter(opener: Opener) -> None:
    store = opener()
    await write_some(store, 20)
    before = await contents(store)
    await store.close()
    again = opener()
    assert await contents(again) == before
    assert before[0] > max(o.rv for o in before[1])
    assert (await again.create("pods", pod("next"))).rv == before[0] + 1


async def test_snapshots_bound_the_log_and_recovery_uses_them(opener: Opener, tmp_path: Path) -> None:
    store = opener(snapshot_every=10)
    await write_some(store, 30)
    assert await store.snapshot() == store.current_rv
    await write_some(store, 5, start=30)
    before = await contents(store)
    await store.close()
    assert len(list((tmp_path / "data" / "wal").iterdir())) == 1
    again = opener(snapshot_every=10)
    assert 0 < again.snapshot_rv < before[0]
    assert await contents(again) == before


async def test_background_snapshots_follow_the_writes(opener: Opener) -> None:
    store = opener(snapshot_every=25)
    await write_some(store, 40)
    await store.close()
    assert store.snapshot_rv >= 25
    assert await contents(opener()) == await contents(store)


async def test_watchers_resume_across_a_restart(opener: Opener) -> None:
    store = opener()
    await write_some(store, 3)
    snapshot_rv = await store.snapshot()
    await store.create("pods", pod("after-1"))
    await store.update("pods", pod("after-1", phase="Running"))
    await store.create("pods", pod("after-2"))
    await store.close()
    again = opener()
    events = await watch(again, False, since_rv=snapshot_rv + 1)
    assert [(e.type, e.obj.name) for e in await events.take(2)] == [("MODIFIED", "after-1"), ("ADDED", "after-2")]
    await events.close()
    with pytest.raises(Gone):
        await anext(again.watch("pods", since_rv=snapshot_rv - 1))


async def test_a_second_opener_is_refused(opener: Opener) -> None:
    store = opener()
    with pytest.raises(StoreLocked, match=rf"in use by another miniplane store \(pid {os.getpid()}\)"):
        opener()
    await store.close()
    opener()


async def test_a_corrupt_snapshot_is_refused_and_the_dir_released(opener: Opener, tmp_path: Path) -> None:
    store = opener()
    await write_some(store, 3)
    await store.snapshot()
    await store.close()
    path = tmp_path / "data" / "snapshot"
    good = path.read_bytes()
    path.write_bytes(good[:-1])
    with pytest.raises(CorruptSnapshot):
        opener()
    path.write_bytes(good)
    assert opener().current_rv == store.current_rv


async def test_a_gap_in_the_log_is_refused(opener: Opener, tmp_path: Path) -> None:
    store = opener()
    await write_some(store, 1)
    await store.close()
    wal, _ = WriteAheadLog.open(tmp_path / "data" / "wal")
    await wal.append(Record("create", "pods", "default", "late", store.current_rv + 2, b'{"metadata":{}}'))
    await wal.close()
    with pytest.raises(CorruptLog, match="jumps"):
        opener()


async def test_concurrent_writes_share_syncs(opener: Opener) -> None:
    store = opener()
    names = iter(range(800))

    async def writer() -> None:
        for i in names:
            await store.create("pods", pod(f"p{i}"))

    await asyncio.gather(*(writer() for _ in range(16)))
    stats = store.log_statistics()
    assert stats.records == 800 == store.current_rv
    assert stats.syncs < 800 / 4


async def test_nothing_is_visible_before_it_is_durable(opener: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    store = opener()
    events = await watch(store, True)
    gate, entered = threading.Event(), threading.Event()
    real_sync = os.fdatasync

    def held_sync(fd: int) -> None:
        entered.set()
        gate.wait()
        real_sync(fd)

    monkeypatch.setattr(os, "fdatasync", held_sync)
    creating = asyncio.create_task(store.create("pods", pod("a")))
    await asyncio.to_thread(entered.wait)
    reading = asyncio.create_task(store.get("pods", "default", "a"))  # read-your-writes: waits for durability
    await asyncio.sleep(0.05)
    assert not reading.done()
    assert await store.list("pods") == ([], 0)
    assert store.current_rv == 0
    with pytest.raises(AlreadyExists):  # yet later writes are checked against it
        await store.create("pods", pod("a"))
    updating = asyncio.create_task(store.update("pods", pod("a", phase="Running"), expect_rv=1))
    gate.set()
    assert (await creating).rv == 1
    assert (await updating).rv == 2
    assert (await reading).rv >= 1
    assert [(e.type, e.obj.rv) for e in await events.take(2)] == [("ADDED", 1), ("MODIFIED", 2)]
    await events.close()


async def test_a_failed_sync_is_never_applied_and_stops_writes(opener: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    store = opener()
    kept = await store.create("pods", pod("kept"))
    events = await watch(store, True)

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(LogUnavailable, match="No space left"):
        await store.create("pods", pod("lost"))
    with pytest.raises(NotFound):
        await store.get("pods", "default", "lost")
    assert store.current_rv == kept.rv
    assert await store.get("pods", "default", "kept") == kept
    with pytest.raises(LogUnavailable):
        await store.delete("pods", "default", "kept")
    assert store.statistics().watchers == 1
    assert events.pending is not None and not events.pending.done()
    await events.close()


async def test_close_finishes_the_writes_under_way(opener: Opener) -> None:
    store = opener()
    writes = [asyncio.create_task(store.create("pods", pod(f"p{i}"))) for i in range(20)]
    await asyncio.sleep(0)
    await store.close()
    assert store.current_rv == 20
    assert [w.rv for w in await asyncio.gather(*writes)] == list(range(1, 21))
    with pytest.raises(LogUnavailable, match="closed"):
        await store.create("pods", pod("late"))
    assert opener().current_rv == 20


WRITER = """
import asyncio, sys
from pathlib import Path
from miniplane.store.durable import DurableStore

async def main() -> None:
    store = DurableStore(Path(sys.argv[1]), snapshot_every=300)
    numbers = iter(range(10**9))

    async def writer() -> None:
        for i in numbers:
            meta = {"name": f"p{i}", "namespace": "default"}
            for op in ("create", "update", "delete")[: 1 + i % 3]:
                if op == "delete":
                    rv = (await store.delete("pods", "default", f"p{i}")).rv
                else:
                    rv = (await getattr(store, op)("pods", {"metadata": meta, "spec": {"op": op}})).rv
                print(op, f"p{i}", rv, flush=True)

    await asyncio.gather(*(writer() for _ in range(16)))

asyncio.run(main())
"""


def acknowledged_before_kill_9(data_dir: Path, at_least: int) -> list[str]:
    """Run WRITER on ``data_dir``, SIGKILL it once it has acknowledged ``at_least`` writes; its whole lines."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout is not None
    acked = [child.stdout.readline() for _ in range(at_least)]
    child.send_signal(signal.SIGKILL)
    acked += child.stdout.readlines()
    child.wait()
    return [line for line in acked if line.endswith("\n")]  # the kill may cut the last one


@pytest.mark.slow
async def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    acked = acknowledged_before_kill_9(data_dir, 3000)
    last: dict[str, tuple[str, int]] = {}
    for line in acked:
        op, name, acked_rv = line.split()
        last[name] = (op, int(acked_rv))
    store = DurableStore(data_dir)
    try:
        assert store.snapshot_rv > 0
        assert store.current_rv >= max(rv for _, rv in last.values())
        for name, (op, rv) in last.items():
            try:
                stored = await store.get("pods", "default", name)
            except NotFound:  # a later delete may be durable yet unacknowledged
                assert op == "delete" or int(name[1:]) % 3 == 2, (name, op, rv)
            else:
                assert op != "delete" and stored.rv >= rv, (name, op, rv)
    finally:
        await store.close()
