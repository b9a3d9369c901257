"""The contract every store backend must honour (``miniplane.store.base.Store``).

A backend's test module subclasses ``StoreContract`` and provides the ``make_store`` fixture::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def make_store(self) -> StoreFactory:
            async def make(*, history_size: int, watch_queue_size: int) -> Store:
                return MyStore(...)
            return make

Tests assume nothing about how a backend stores or indexes; resourceVersions are compared
relative to each other, except that a fresh store starts at 0.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import suppress
from typing import Any, Protocol

import orjson
import pytest

from miniplane.selectors import FieldSelector, LabelSelector
from miniplane.store.base import Query, Store, StoredObject, WatchEvent
from miniplane.store.errors import AlreadyExists, Conflict, Gone, NotFound, WatchOverflow

TIMEOUT = 5.0


class StoreFactory(Protocol):
    """Opens a fresh, empty store with the given limits."""

    def __call__(self, *, history_size: int, watch_queue_size: int) -> Awaitable[Store]: ...


OpenStore = Callable[..., Awaitable[Store]]


def pod(
    name: str,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    node: str = "",
    phase: str = "Pending",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": phase}}


def node(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}


def query(namespace: str | None = None, labels: str = "", fields: str = "") -> Query:
    return Query(
        namespace=namespace,
        labels=LabelSelector.parse(labels) if labels else None,
        fields=FieldSelector.parse(fields) if fields else None,
    )


def names(objs: list[StoredObject]) -> list[str]:
    return [f"{o.namespace}/{o.name}" for o in objs]


def summary(events: list[WatchEvent]) -> list[tuple[str, str, int]]:
    return [(e.type, e.obj.name, e.obj.rv) for e in events]


async def eventually(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds; fail after ``TIMEOUT`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0)


class Reader:
    """One watch as a test reads it, with a time limit on every wait.

    ``start()`` begins reading in the background, so the watch is registered before the test writes
    and changes reach it live; a reader never started gets them replayed from the history instead.
    """

    def __init__(self, store: Store, events: AsyncGenerator[WatchEvent, None]) -> None:
        self.store = store
        self.events = events
        self.pending: asyncio.Task[WatchEvent] | None = None

    async def start(self) -> Reader:
        before = self.store.statistics().watchers
        pending = self.pending = asyncio.create_task(self._next())
        await eventually(lambda: self.store.statistics().watchers > before or pending.done())
        return self

    async def next(self) -> WatchEvent:
        async with asyncio.timeout(TIMEOUT):
            if self.pending is None:
                return await self._next()
            pending, self.pending = self.pending, None
            return await pending

    async def take(self, count: int) -> list[WatchEvent]:
        return [await self.next() for _ in range(count)]

    async def until(self, name: str) -> list[WatchEvent]:
        """Events up to and including the first one about ``name`` (a marker written by the test)."""
        seen = [await self.next()]
        while seen[-1].obj.name != name:
            seen.append(await self.next())
        return seen

    async def close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            with suppress(asyncio.CancelledError):
                await self.pending
        await self.events.aclose()

    async def _next(self) -> WatchEvent:
        return await anext(self.events)


async def watch(
    store: Store, live: bool, q: Query | None = None, since_rv: int | None = None, resource: str = "pods"
) -> Reader:
    """A reader of ``store.watch(...)``, started (live) or not (replay)."""
    reader = Reader(store, store.watch(resource, q or Query(), since_rv))
    return await reader.start() if live else reader


def rv_in(obj: StoredObject) -> str:
    meta: dict[str, Any] = orjson.loads(obj.raw)["metadata"]
    return str(meta["resourceVersion"])


# Pods for the list tests: (namespace, name, labels, node, phase)
POPULATION = [
    ("default", "web-1", {"app": "web", "tier": "front"}, "n1", "Running"),
    ("default", "web-2", {"app": "web", "tier": "front"}, "n2", "Running"),
    ("default", "db-1", {"app": "db"}, "n1", "Pending"),
    ("kube-system", "proxy-1", {"app": "proxy", "critical": "yes"}, "n1", "Running"),
    ("kube-system", "web-1", {"app": "web"}, "", "Pending"),
    ("apps", "batch-1", {}, "n2", "Succeeded"),
]

LIST_CASES = [
    pytest.param({}, ["apps/batch-1", "default/db-1", "default/web-1", "default/web-2",
                      "kube-system/proxy-1", "kube-system/web-1"], id="all-sorted"),
    pytest.param({"namespace": "default"},
                 ["default/db-1", "default/web-1", "default/web-2"], id="namespace"),
    pytest.param({"namespace": "nope"}, [], id="unknown-namespace"),
    pytest.param({"labels": "app=web"},
                 ["default/web-1", "default/web-2", "kube-system/web-1"], id="label-eq"),
    pytest.param({"labels": "app==web,tier=front"}, ["default/web-1", "default/web-2"], id="label-and"),
    pytest.param({"labels": "app!=web"},
                 ["apps/batch-1", "default/db-1", "kube-system/proxy-1"], id="label-neq-includes-missing"),
    pytest.param({"labels": "app in (db,proxy)"}, ["default/db-1", "kube-system/proxy-1"], id="label-in"),
    pytest.param({"labels": "app notin (web,db)"},
                 ["apps/batch-1", "kube-system/proxy-1"], id="label-notin"),
    pytest.param({"labels": "critical"}, ["kube-system/proxy-1"], id="label-exists"),
    pytest.param({"labels": "!app"}, ["apps/batch-1"], id="label-not-exists"),
    pytest.param({"labels": "app=nothing"}, [], id="label-no-match"),
    pytest.param({"namespace": "kube-system", "labels": "app=web"}, ["kube-system/web-1"], id="ns-and-label"),
    pytest.param({"fields": "spec.nodeName=n1"},
                 ["default/db-1", "default/web-1", "kube-system/proxy-1"], id="field-node"),
    pytest.param({"fields": "spec.nodeName="}, ["kube-system/web-1"], id="field-empty-value"),
    pytest.param({"fields": "spec.nodeName=n1", "labels": "app=web"},
                 ["default/web-1"], id="field-and-label"),
    pytest.param({"fields": "status.phase!=Running,status.phase!=Succeeded"},
                 ["default/db-1", "kube-system/web-1"], id="field-neq-twice"),
    pytest.param({"fields": "metadata.name=web-1"}, ["default/web-1", "kube-system/web-1"], id="field-name"),
    pytest.param({"namespace": "default", "fields": "metadata.name=web-1"}, ["default/web-1"],
                 id="field-name-in-namespace"),
    pytest.param({"fields": "metadata.namespace=apps"}, ["apps/batch-1"], id="field-namespace"),
    pytest.param({"namespace": "apps", "fields": "metadata.namespace=default"}, [], id="namespace-conflict"),
]  # fmt: skip


class StoreContract:
    """Backend-agnostic tests of the ``Store`` protocol."""

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        raise NotImplementedError("a backend's test class provides make_store")

    @pytest.fixture
    async def open_store(self, make_store: StoreFactory) -> AsyncGenerator[OpenStore, None]:
        opened: list[Store] = []

        async def open_(history_size: int = 10_000, watch_queue_size: int = 10_000) -> Store:
            store = await make_store(history_size=history_size, watch_queue_size=watch_queue_size)
            opened.append(store)
            return store

        yield open_
        for store in opened:
            await store.close()

    @pytest.fixture
    async def store(self, open_store: OpenStore) -> Store:
        return await open_store()

    @pytest.fixture
    async def populated(self, store: Store) -> Store:
        random.Random(7).shuffle(shuffled := list(POPULATION))
        for namespace, name, labels, node_name, phase in shuffled:
            await store.create("pods", pod(name, namespace, labels, node_name, phase))
        await store.create("nodes", node("n1", {"app": "web"}))
        return store

    # --- resourceVersions and CRUD -------------------------------------------------------------

    async def test_fresh_store_is_empty_at_rv_zero(self, store: Store) -> None:
        assert store.current_rv == 0
        assert await store.list("pods") == ([], 0)

    async def test_create_stamps_a_new_rv_into_the_stored_bytes(self, store: Store) -> None:
        obj = pod("a", labels={"app": "web"}, node="n1")
        created = await store.create("pods", obj)
        assert (created.resource, created.namespace, created.name) == ("pods", "default", "a")
        assert created.rv == store.current_rv > 0
        assert rv_in(created) == str(created.rv)
        stamped = {**obj["metadata"], "resourceVersion": str(created.rv)}
        assert created.decode() == {**obj, "metadata": stamped}
        assert created.raw == orjson.dumps(orjson.loads(created.raw)), "raw is compact JSON"
        assert "resourceVersion" not in obj["metadata"], "the caller's dict is left alone"
        assert dict(created.labels) == {"app": "web"}
        assert created.fields["metadata.name"] == "a"
        assert created.fields["spec.nodeName"] == "n1"

    async def test_rv_is_global_and_strictly_increasing(self, store: Store) -> None:
        rvs = [(await store.create("pods", pod("a"))).rv, (await store.create("nodes", node("n1"))).rv]
        rvs.append((await store.update("pods", pod("a", phase="Running"))).rv)
        rvs.append((await store.delete("nodes", "", "n1")).rv)
        assert rvs == sorted(set(rvs))
        assert store.current_rv == rvs[-1]

    async def test_cluster_scoped_objects_have_an_empty_namespace(self, store: Store) -> None:
        created = await store.create("nodes", node("n1"))
        assert created.namespace == ""
        assert (await store.get("nodes", "", "n1")).raw == created.raw

    async def test_get_returns_the_current_version(self, store: Store) -> None:
        await store.create("pods", pod("a"))
        updated = await store.update("pods", pod("a", phase="Running"))
        got = await store.get("pods", "default", "a")
        assert got.rv == updated.rv
        assert got.decode()["status"]["phase"] == "Running"

    async def test_keys_include_resource_and_namespace(self, store: Store) -> None:
        await store.create("pods", pod("a", "one"))
        await store.create("pods", pod("a", "two"))
        await store.create("configmaps", {"metadata": {"name": "a", "namespace": "one"}})
        assert names((await store.list("pods"))[0]) == ["one/a", "two/a"]
        assert (await store.get("configmaps", "one", "a")).resource == "configmaps"

    async def test_get_missing_raises_not_found(self, store: Store) -> None:
        await store.create("pods", pod("a"))
        with pytest.raises(NotFound) as err:
            await store.get("pods", "other", "a")
        assert (err.value.resource, err.value.namespace, err.value.name) == ("pods", "other", "a")
        with pytest.raises(NotFound):
            await store.get("nodes", "", "a")

    async def test_create_existing_raises_already_exists(self, store: Store) -> None:
        await store.create("pods", pod("a"))
        rv = store.current_rv
        with pytest.raises(AlreadyExists):
            await store.create("pods", pod("a", phase="Running"))
        assert store.current_rv == rv
        assert (await store.get("pods", "default", "a")).decode()["status"]["phase"] == "Pending"

    async def test_update_replaces_and_restamps(self, store: Store) -> None:
        created = await store.create("pods", pod("a"))
        updated = await store.update("pods", pod("a", labels={"x": "y"}), expect_rv=created.rv)
        assert updated.rv > created.rv
        assert rv_in(updated) == str(updated.rv)
        assert dict(updated.labels) == {"x": "y"}

    async def test_update_with_stale_rv_raises_conflict(self, store: Store) -> None:
        created = await store.create("pods", pod("a"))
        await store.update("pods", pod("a", phase="Running"))
        with pytest.raises(Conflict):
            await store.update("pods", pod("a", phase="Failed"), expect_rv=created.rv)
        assert (await store.get("pods", "default", "a")).decode()["status"]["phase"] == "Running"

    async def test_update_missing_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            await store.update("pods", pod("a"))
        assert store.current_rv == 0

    async def test_delete_returns_last_state_with_deletion_rv(self, store: Store) -> None:
        created = await store.create("pods", pod("a", phase="Running"))
        deleted = await store.delete("pods", "default", "a", expect_rv=created.rv)
        assert deleted.rv == store.current_rv > created.rv
        assert rv_in(deleted) == str(deleted.rv)
        assert deleted.decode() == {
            **created.decode(),
            "metadata": {**created.decode()["metadata"], "resourceVersion": str(deleted.rv)},
        }
        with pytest.raises(NotFound):
            await store.get("pods", "default", "a")
        assert await store.list("pods") == ([], deleted.rv)

    async def test_delete_missing_or_stale_fails(self, store: Store) -> None:
        with pytest.raises(NotFound):
            await store.delete("pods", "default", "a")
        created = await store.create("pods", pod("a"))
        with pytest.raises(Conflict):
            await store.delete("pods", "default", "a", expect_rv=created.rv + 100)
        assert (await store.get("pods", "default", "a")).rv == created.rv

    async def test_deleted_key_can_be_created_again(self, store: Store) -> None:
        await store.create("pods", pod("a"))
        await store.delete("pods", "default", "a")
        again = await store.create("pods", pod("a"))
        assert again.rv == store.current_rv

    # --- list -------------------------------------------------------------------------------------

    @pytest.mark.parametrize(("filters", "expected"), LIST_CASES)
    async def test_list_filters_and_sorts(self, populated: Store, filters: dict[str, str], expected: list[str]) -> None:
        items, rv = await populated.list("pods", query(**filters))
        assert names(items) == expected
        assert rv == populated.current_rv

    async def test_list_accepts_api_label_selectors(self, populated: Store) -> None:
        selector = LabelSelector.from_api(
            {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}
        )
        items, _ = await populated.list("pods", Query(labels=selector))
        assert names(items) == ["default/web-1", "default/web-2"]

    async def test_list_rv_is_the_global_rv(self, populated: Store) -> None:
        await populated.create("nodes", node("n9"))
        assert (await populated.list("pods"))[1] == populated.current_rv
        assert await populated.list("nothing-here") == ([], populated.current_rv)

    async def test_list_follows_label_and_field_changes(self, store: Store) -> None:
        await store.create("pods", pod("a", labels={"app": "web"}, node="n1"))
        await store.create("pods", pod("b", labels={"app": "web"}, node="n1"))
        await store.update("pods", pod("a", labels={"app": "db"}, node="n2"))
        await store.delete("pods", "default", "b")
        assert names((await store.list("pods", query(labels="app=web")))[0]) == []
        assert names((await store.list("pods", query(labels="app=db")))[0]) == ["default/a"]
        assert names((await store.list("pods", query(fields="spec.nodeName=n1")))[0]) == []
        assert names((await store.list("pods", query(fields="spec.nodeName=n2")))[0]) == ["default/a"]

    async def test_list_matches_a_full_scan_after_random_writes(self, store: Store) -> None:
        rng = random.Random(42)
        for _ in range(400):
            name, namespace = f"p{rng.randrange(30)}", rng.choice(["a", "b", "c"])
            obj = pod(name, namespace, {"app": rng.choice(["x", "y", "z"])}, rng.choice(["", "n1", "n2"]))
            try:
                if rng.random() < 0.2:
                    await store.delete("pods", namespace, name)
                elif rng.random() < 0.5:
                    await store.update("pods", obj)
                else:
                    await store.create("pods", obj)
            except (NotFound, AlreadyExists):
                pass
        everything, _ = await store.list("pods")
        assert everything == sorted(everything, key=lambda o: (o.namespace, o.name))
        for q in [
            query(labels="app=x"),
            query(labels="app in (x,y)"),
            query("b", labels="app=z"),
            query(fields="spec.nodeName=n1"),
            query(fields="spec.nodeName="),
            query("c", labels="app!=x", fields="spec.nodeName=n2"),
            query(fields="metadata.name=p3"),
        ]:
            assert (await store.list("pods", q))[0] == [o for o in everything if q.matches(o)], q

    # --- watch ------------------------------------------------------------------------------------

    @pytest.fixture(params=[True, False], ids=["live", "replay"])
    def live(self, request: pytest.FixtureRequest) -> bool:
        """Whether a watch test's reader is registered before the writes (live) or after (replay)."""
        return bool(request.param)

    async def test_watch_streams_changes(self, store: Store, live: bool) -> None:
        events = await watch(store, live)
        created = await store.create("pods", pod("a"))
        updated = await store.update("pods", pod("a", phase="Running"))
        await store.create("nodes", node("n1"))  # another resource: not seen
        deleted = await store.delete("pods", "default", "a")
        got = await events.take(3)
        assert summary(got) == [("ADDED", "a", created.rv), ("MODIFIED", "a", updated.rv),
                                ("DELETED", "a", deleted.rv)]  # fmt: skip
        assert got[0].prev is None
        assert got[1].prev is not None and got[1].prev.rv == created.rv
        assert got[1].obj.raw == updated.raw
        assert got[2].obj.raw == deleted.raw
        assert got[2].prev is not None and got[2].prev.rv == updated.rv
        await events.close()

    async def test_watch_without_rv_starts_at_the_call(self, store: Store) -> None:
        await store.create("pods", pod("before"))
        events = store.watch("pods")
        await store.create("pods", pod("after"))
        assert (await anext(events)).obj.name == "after"
        await events.aclose()

    async def test_watch_replays_from_an_rv_in_the_window(self, store: Store, live: bool) -> None:
        first = await store.create("pods", pod("a"))
        await store.create("pods", pod("b"))
        await store.update("pods", pod("a", phase="Running"))
        events = await watch(store, live, since_rv=first.rv)
        await store.delete("pods", "default", "b")
        assert [(t, n) for t, n, _ in summary(await events.take(3))] == [
            ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")
        ]  # fmt: skip
        await events.close()

    async def test_watch_from_zero_replays_a_young_store(self, store: Store) -> None:
        await store.create("pods", pod("a"))
        events = await watch(store, False, since_rv=0)
        assert summary(await events.take(1))[0][:2] == ("ADDED", "a")
        await events.close()

    async def test_watch_from_a_too_old_rv_is_gone(self, open_store: OpenStore) -> None:
        store = await open_store(history_size=3)
        for i in range(10):
            await store.create("pods", pod(f"p{i}"))
        events = store.watch("pods", since_rv=1)
        with pytest.raises(Gone) as err:
            await anext(events)
        assert err.value.requested == 1
        assert err.value.oldest > 1
        assert store.statistics().watchers == 0

    async def test_watch_from_current_rv_is_never_gone(self, open_store: OpenStore) -> None:
        store = await open_store(history_size=1)
        for i in range(5):
            await store.create("pods", pod(f"p{i}"))
        events = await watch(store, False, since_rv=store.current_rv)
        await store.create("pods", pod("late"))
        assert summary(await events.take(1))[0][:2] == ("ADDED", "late")
        await events.close()

    async def test_list_then_watch_has_no_gap_and_no_duplicate(self, store: Store, live: bool) -> None:
        for i in range(5):
            await store.create("pods", pod(f"p{i}"))
        _, rv = await store.list("pods")
        await store.update("pods", pod("p0", phase="Running"))  # after the list, before the watch
        events = await watch(store, live, since_rv=rv)
        await store.create("pods", pod("p5"))
        got = await events.until("p5")
        assert [(t, n) for t, n, _ in summary(got)] == [("MODIFIED", "p0"), ("ADDED", "p5")]
        assert all(e.obj.rv > rv for e in got)
        await events.close()

    async def test_informer_view_converges_under_concurrent_writes(self, store: Store, live: bool) -> None:
        async def writer() -> None:
            rng = random.Random(1)
            for _ in range(300):
                name = f"p{rng.randrange(20)}"
                with suppress(NotFound, AlreadyExists):
                    if rng.random() < 0.3:
                        await store.delete("pods", "default", name)
                    elif rng.random() < 0.5:
                        await store.update("pods", pod(name, phase=rng.choice(["Pending", "Running"])))
                    else:
                        await store.create("pods", pod(name))
                await asyncio.sleep(0)

        writing = asyncio.create_task(writer())
        for _ in range(50):
            await asyncio.sleep(0)
        items, rv = await store.list("pods")
        view = {o.name: o.rv for o in items}
        events = await watch(store, live, since_rv=rv)
        await writing
        await store.create("pods", pod("zz-marker"))
        last = rv
        for event in await events.until("zz-marker"):
            assert event.obj.rv > last, "events arrive once, in rv order"
            last = event.obj.rv
            if event.type == "DELETED":
                del view[event.obj.name]
            else:
                view[event.obj.name] = event.obj.rv
        assert view == {o.name: o.rv for o in (await store.list("pods"))[0]}
        await events.close()

    async def test_filtered_watch_turns_added_and_deleted(self, store: Store, live: bool) -> None:
        await store.create("pods", pod("a", labels={"app": "db"}))
        events = await watch(store, live, query(labels="app=web"))
        await store.update("pods", pod("a", labels={"app": "web"}))  # starts matching
        await store.update("pods", pod("a", labels={"app": "web"}, phase="Running"))  # still matches
        left = await store.update("pods", pod("a", labels={"app": "db"}, phase="Running"))  # stops
        await store.update("pods", pod("a", labels={"app": "db"}, phase="Failed"))  # never matched
        await store.create("pods", pod("other", labels={"app": "db"}))
        await store.create("pods", pod("marker", labels={"app": "web"}))
        got = await events.until("marker")
        assert [(t, n) for t, n, _ in summary(got)] == [
            ("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"), ("ADDED", "marker")
        ]  # fmt: skip
        assert got[2].obj.rv == left.rv
        assert dict(got[2].obj.labels) == {"app": "db"}, "DELETED carries the new state"
        await events.close()

    async def test_field_filtered_watch_sees_binding_as_added(self, store: Store, live: bool) -> None:
        await store.create("pods", pod("a"))
        events = await watch(store, live, query(fields="spec.nodeName=n1"))
        await store.create("pods", pod("elsewhere", node="n2"))
        await store.update("pods", pod("a", node="n1"))
        await store.update("pods", pod("a", node="n3"))
        await store.create("pods", pod("marker", node="n1"))
        got = await events.until("marker")
        assert [(t, n) for t, n, _ in summary(got)] == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "marker")]
        await events.close()

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            pytest.param({}, ["default/a", "default/b", "other/a", "other/b"], id="everything"),
            pytest.param({"fields": "metadata.name=a"}, ["default/a", "other/a"], id="by-name"),
            pytest.param({"namespace": "other"}, ["other/a", "other/b"], id="by-namespace"),
            pytest.param({"namespace": "other", "fields": "metadata.name=a"}, ["other/a"], id="name-and-ns"),
            pytest.param({"fields": "metadata.namespace=other"}, ["other/a", "other/b"], id="ns-field"),
            pytest.param({"fields": "metadata.name!=a"}, ["default/b", "other/b"], id="name-neq"),
            pytest.param({"labels": "app=web"}, ["default/a", "other/b"], id="labels"),
            pytest.param({"fields": "spec.nodeName=n1"}, ["default/a", "other/a"], id="node"),
        ],
    )
    async def test_watch_filters(self, store: Store, live: bool, filters: dict[str, str], expected: list[str]) -> None:
        events = await watch(store, live, query(**filters))
        pods = [("default", "a", "web"), ("default", "b", "db"), ("other", "a", "db"), ("other", "b", "web")]
        for namespace, name, app in pods:
            await store.create("pods", pod(name, namespace, {"app": app}, node="n1" if name == "a" else ""))
        for namespace, name, app in pods:  # markers: the first one a watcher sees ends its events
            await store.create("nodes", node(f"{namespace}-{name}"))
            obj = pod(name, namespace, {"app": app, "marker": "yes"}, node="n1" if name == "a" else "")
            await store.update("pods", obj)
        seen: list[str] = []
        while "marker" not in (event := await events.next()).obj.labels:
            seen.append(f"{event.obj.namespace}/{event.obj.name}")
        assert seen == expected
        await events.close()

    async def test_many_watchers_each_get_their_events(self, store: Store, live: bool) -> None:
        readers = [await watch(store, live, query(fields=f"spec.nodeName=n{i}")) for i in range(20)]
        everything = await watch(store, live)
        for i in range(20):
            await store.create("pods", pod(f"p{i}", node=f"n{i}"))
        for i, reader in enumerate(readers):
            assert [e.obj.name for e in await reader.take(1)] == [f"p{i}"]
        assert [e.obj.name for e in await everything.take(20)] == [f"p{i}" for i in range(20)]
        assert store.statistics().watchers == 21
        for reader in [*readers, everything]:
            await reader.close()
        assert store.statistics().watchers == 0

    async def test_slow_watcher_overflows(self, open_store: OpenStore) -> None:
        store = await open_store(watch_queue_size=5)
        events = await watch(store, True)
        await store.create("pods", pod("first"))
        await events.take(1)  # registered and caught up
        for i in range(50):
            await store.create("pods", pod(f"p{i}"))
        with pytest.raises(WatchOverflow):
            await events.take(51)
        assert store.statistics().watchers == 0
        await store.create("pods", pod("after"))  # the store keeps working

    async def test_other_watchers_survive_an_overflow(self, open_store: OpenStore) -> None:
        store = await open_store(watch_queue_size=5)
        slow, fast = await watch(store, True), await watch(store, True)
        await store.create("pods", pod("first"))
        await slow.take(1)
        await fast.take(1)
        for i in range(20):
            await store.create("pods", pod(f"p{i}"))
            assert (await fast.next()).obj.name == f"p{i}"
        with pytest.raises(WatchOverflow):
            await slow.take(21)
        assert store.statistics().watchers == 1
        await fast.close()

    async def test_aclose_releases_the_watcher(self, store: Store) -> None:
        events = await watch(store, True)
        assert store.statistics().watchers == 1
        await store.create("pods", pod("a"))
        await events.take(1)
        await events.events.aclose()
        assert store.statistics().watchers == 0
        await store.create("pods", pod("b"))

    async def test_cancelling_the_reader_releases_the_watcher(self, store: Store) -> None:
        async def read() -> None:
            async for _ in store.watch("pods", query(fields="spec.nodeName=n1")):
                pass

        reader = asyncio.create_task(read())
        await eventually(lambda: store.statistics().watchers == 1)
        await store.create("pods", pod("a", node="n1"))
        reader.cancel()
        with suppress(asyncio.CancelledError):
            await reader
        assert store.statistics().watchers == 0

    async def test_close_ends_every_watch(self, store: Store) -> None:
        received: list[str] = []

        async def read(q: Query) -> None:
            async for event in store.watch("pods", q):
                received.append(event.obj.name)

        readers = [asyncio.create_task(read(q)) for q in (Query(), query("default"), query(labels="a=b"))]
        await eventually(lambda: store.statistics().watchers == 3)
        await store.create("pods", pod("a"))
        await eventually(lambda: len(received) == 2)
        await store.close()
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*readers)
        assert store.statistics().watchers == 0
        await store.close()  # idempotent

    # --- statistics -------------------------------------------------------------------------------

    async def test_statistics_count_objects_watchers_and_history(self, populated: Store) -> None:
        events = await watch(populated, True)
        await populated.create("pods", pod("new"))
        await events.take(1)
        stats = populated.statistics()
        assert stats.current_rv == populated.current_rv
        assert stats.objects["pods"] == len(POPULATION) + 1
        assert stats.objects["nodes"] == 1
        assert stats.watchers == 1
        assert stats.history_events >= 1
        assert 0 < stats.oldest_rv <= stats.current_rv
        await events.close()
