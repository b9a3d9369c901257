"""MemoryStore against the store contract, plus what only the in-memory backend promises."""

from __future__ import annotations

import pytest

from miniplane.store.base import Store
from miniplane.store.errors import Gone
from miniplane.store.memory import MemoryStore
from tests.contract.store_contract import StoreContract, StoreFactory, pod, query, watch


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def make_store(self) -> StoreFactory:
        async def make(*, history_size: int, watch_queue_size: int) -> Store:
            return MemoryStore(history_size=history_size, watch_queue_size=watch_queue_size)

        return make


async def test_history_window_is_exactly_history_size() -> None:
    store = MemoryStore(history_size=3)
    for i in range(5):
        await store.create("pods", pod(f"p{i}"))
    assert store.statistics().history_events == 3
    assert store.statistics().oldest_rv == 3
    events = await watch(store, False, since_rv=2)
    assert [e.obj.name for e in await events.take(3)] == ["p2", "p3", "p4"]
    await events.close()
    with pytest.raises(Gone) as err:
        await anext(store.watch("pods", since_rv=1))
    assert (err.value.requested, err.value.oldest) == (1, 3)


async def test_watch_from_a_future_rv_is_gone() -> None:
    """An rv this store never issued (say, a client of a restarted server) must make the client re-list."""
    store = MemoryStore()
    await store.create("pods", pod("a"))
    with pytest.raises(Gone):
        await anext(store.watch("pods", since_rv=5))


@pytest.mark.parametrize("live", [True, False], ids=["live", "replay"])
async def test_watchers_share_stored_objects(live: bool) -> None:
    store = MemoryStore()
    readers = [await watch(store, live, q) for q in (None, query(labels="app=web"), query(fields="spec.nodeName=n1"))]
    created = await store.create("pods", pod("a", labels={"app": "web"}, node="n1"))
    for reader in readers:
        assert (await reader.next()).obj is created
        await reader.close()


async def test_configured_fields_are_indexed_and_kept_current() -> None:
    store = MemoryStore(indexed_fields=("status.phase",))
    await store.create("pods", pod("a", phase="Pending"))
    await store.create("pods", pod("b", phase="Pending"))
    await store.update("pods", pod("a", phase="Running"))
    items, _ = await store.list("pods", query(fields="status.phase=Pending"))
    assert [o.name for o in items] == ["b"]
    events = await watch(store, True, query(fields="status.phase=Running"))
    await store.update("pods", pod("b", phase="Running"))
    assert [(e.type, e.obj.name) for e in await events.take(1)] == [("ADDED", "b")]
    await events.close()


@pytest.mark.parametrize(("history_size", "watch_queue_size"), [(0, 1), (1, 0)], ids=["history", "queue"])
def test_limits_must_be_positive(history_size: int, watch_queue_size: int) -> None:
    with pytest.raises(ValueError):
        MemoryStore(history_size=history_size, watch_queue_size=watch_queue_size)


async def test_objects_without_a_name_are_rejected() -> None:
    with pytest.raises(ValueError, match="metadata.name"):
        await MemoryStore().create("pods", {"metadata": {"namespace": "default"}})


async def test_close_stops_a_watch_in_the_middle_of_its_replay() -> None:
    store = MemoryStore()
    for i in range(5):
        await store.create("pods", pod(f"p{i}"))
    events = store.watch("pods", since_rv=0)
    assert (await anext(events)).obj.name == "p0"
    await store.close()
    assert [e async for e in events] == []


async def test_history_keeps_within_its_byte_budget() -> None:
    """Old versions beyond ``history_bytes`` are let go; a watch from before them is Gone, later ones resume."""
    store = MemoryStore(history_bytes=5_000)
    for i in range(20):
        await store.create("pods", pod(f"p{i}", phase="x" * 500))
    stats = store.statistics()
    assert 1 <= stats.history_events < 20
    assert stats.oldest_rv == 20 - stats.history_events + 1
    events = await watch(store, False, since_rv=stats.oldest_rv - 1)
    assert [e.obj.name for e in await events.take(stats.history_events)][-1] == "p19"
    await events.close()
    with pytest.raises(Gone):
        await anext(store.watch("pods", since_rv=stats.oldest_rv - 2))


async def test_history_keeps_the_newest_change_however_large() -> None:
    store = MemoryStore(history_bytes=10)
    await store.create("pods", pod("big", phase="x" * 5_000))
    assert store.statistics().history_events == 1
