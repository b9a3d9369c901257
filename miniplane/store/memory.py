"""The in-memory store: serialized objects, list indexes and a watch hub with a bounded history.

Everything runs on the event loop without awaiting, so each call is atomic: a ``list`` followed by
``watch(since_rv=<list rv>)`` sees every later change exactly once. Three parts:

- ``_Table`` keeps one resource's objects per namespace (names kept sorted) with an index from
  ``label=value`` and from configured fields (``spec.nodeName``) to keys, so selective lists do not
  scan every object.
- ``_WatchHub`` keeps the last ``history_size`` changes, within ``history_bytes`` of serialized objects
  (for resuming watches: at 10,000 nodes the Lease renewals alone would otherwise keep 100,000 old
  versions, over 100 MiB, alive), and the watchers, indexed
  by resource and by the name, indexed field or namespace their query pins, so a write only looks at
  watchers that can care. Every watcher receives the same ``StoredObject``s: nothing is re-encoded.
- ``MemoryStore`` stamps resourceVersions, encodes objects once and glues the two together.

``current``, ``apply``, ``restore`` and the module functions ``encode``, ``from_raw``, ``tombstone`` are
the steps of a write taken apart, for a backend that persists a write before applying it (DurableStore).
"""

from __future__ import annotations

import asyncio
import sys
from bisect import bisect_left, insort
from collections import deque
from collections.abc import AsyncGenerator, Collection, Iterable, Iterator, Mapping
from itertools import islice
from types import MappingProxyType
from typing import Any, Literal

import orjson

from miniplane.resources.fields import selectable_fields
from miniplane.store.base import Query, StoredObject, StoreStatistics, WatchEvent
from miniplane.store.errors import AlreadyExists, Conflict, Gone, NotFound, WatchOverflow

_EMPTY: Mapping[str, str] = MappingProxyType({})
_EVERYTHING = Query()
_NAME = "metadata.name"
_NAMESPACE = "metadata.namespace"

Key = tuple[str, str]  # (namespace, name)
HISTORY_BYTES = 48 * 1024 * 1024  # default budget of the watch history (serialized objects)
_EVENT_OVERHEAD = 600  # bytes per kept event beyond the serialized object: the event, its labels and fields
Term = tuple[str, str, str]  # ("label" | "field", key, value)


class MemoryStore:
    """A ``Store`` that keeps everything in this process."""

    def __init__(
        self,
        history_size: int = 100_000,
        watch_queue_size: int = 10_000,
        *,
        history_bytes: int = HISTORY_BYTES,
        indexed_fields: Collection[str] = ("spec.nodeName",),
    ) -> None:
        if history_size < 1 or watch_queue_size < 1 or history_bytes < 1:
            raise ValueError("history_size, history_bytes and watch_queue_size must be positive")
        self._rv = 0
        self._tables: dict[str, _Table] = {}
        self._indexed_fields = tuple(indexed_fields)
        self._hub = _WatchHub(history_size, history_bytes, watch_queue_size, (_NAME, *self._indexed_fields, _NAMESPACE))

    @property
    def current_rv(self) -> int:
        """The resourceVersion of the newest write (0 for an empty store)."""
        return self._rv

    async def get(self, resource: str, namespace: str, name: str) -> StoredObject:
        """The current object; raises NotFound."""
        table = self._tables.get(resource)
        obj = table.get(namespace, name) if table is not None else None
        if obj is None:
            raise NotFound(resource, namespace, name)
        return obj

    async def list(self, resource: str, query: Query = _EVERYTHING) -> tuple[list[StoredObject], int]:
        """Matching objects sorted by (namespace, name), and the resourceVersion they reflect."""
        table = self._tables.get(resource)
        return (table.select(query) if table is not None else []), self._rv

    async def create(self, resource: str, obj: dict[str, Any]) -> StoredObject:
        """Store a new object (its metadata names the key); raises AlreadyExists."""
        namespace, name = key_of(obj)
        if self.current(resource, namespace, name) is not None:
            raise AlreadyExists(resource, namespace, name)
        stored = encode(resource, namespace, name, obj, None, self._rv + 1)
        self.apply(stored)
        return stored

    async def update(self, resource: str, obj: dict[str, Any], expect_rv: int | None = None) -> StoredObject:
        """Replace an existing object; ``expect_rv`` (if given) must equal the stored one, else Conflict."""
        namespace, name = key_of(obj)
        old = check_current(self.current(resource, namespace, name), resource, namespace, name, expect_rv)
        stored = encode(resource, namespace, name, obj, old, self._rv + 1)
        self.apply(stored)
        return stored

    async def delete(self, resource: str, namespace: str, name: str, expect_rv: int | None = None) -> StoredObject:
        """Remove an object; returns its last state stamped with the deletion's resourceVersion."""
        old = check_current(self.current(resource, namespace, name), resource, namespace, name, expect_rv)
        gone = tombstone(old, self._rv + 1)
        self.apply(gone, deleted=True)
        return gone

    def watch(
        self, resource: str, query: Query = _EVERYTHING, since_rv: int | None = None
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes after ``since_rv`` (None: after the current rv), filtered by ``query``.

        Cancelling a pending ``__anext__`` ends the watch, as for any async generator: to wait with a
        timeout, wrap ``__anext__`` in a task and ``asyncio.wait`` on it instead of ``wait_for``.
        """
        return self._stream(resource, query, self._rv if since_rv is None else since_rv)

    def statistics(self) -> StoreStatistics:
        """Counters for /metrics."""
        return StoreStatistics(
            current_rv=self._rv,
            objects={resource: table.count for resource, table in self._tables.items()},
            watchers=self._hub.watcher_count,
            history_events=len(self._hub.history),
            oldest_rv=self._hub.history[0].obj.rv if self._hub.history else 0,
        )

    async def close(self) -> None:
        """End every watch; their iterators stop."""
        self._hub.close()

    async def _stream(self, resource: str, query: Query, since_rv: int) -> AsyncGenerator[WatchEvent, None]:
        replay, watcher = self._hub.subscribe(resource, query, since_rv, self._rv)
        try:
            for event in replay:
                if watcher.ended is not None:
                    break
                yield event
            while True:
                while watcher.queue:
                    yield watcher.queue.popleft()
                if watcher.ended == "overflow":
                    raise WatchOverflow(f"watch of {resource} fell {self._hub.queue_size} events behind")
                if watcher.ended == "closed":
                    return
                watcher.waiter = asyncio.get_running_loop().create_future()
                try:
                    await watcher.waiter
                finally:
                    watcher.waiter = None
        finally:
            self._hub.unsubscribe(watcher)

    # --- steps of a write, for backends that persist it before applying it (DurableStore) ---

    def current(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        """The current version of a key, if any."""
        table = self._tables.get(resource)
        return table.get(namespace, name) if table is not None else None

    def apply(self, obj: StoredObject, deleted: bool = False) -> None:
        """Make ``obj`` its key's current version (or remove the key) at ``obj.rv`` and tell the watchers.

        ``obj.rv`` must be the next resourceVersion; for a removal ``obj`` is the stamped last state.
        """
        table = self._table(obj.resource)
        old = table.get(obj.namespace, obj.name)
        if deleted:
            assert old is not None
            table.remove(old)
            event = WatchEvent("DELETED", obj, old)
        else:
            table.put(obj, old)
            event = WatchEvent("ADDED", obj) if old is None else WatchEvent("MODIFIED", obj, old)
        self._rv = obj.rv
        self._hub.publish(event)

    def restore(self, objects: Iterable[StoredObject], rv: int) -> None:
        """Load recovered objects into an empty store at resourceVersion ``rv``; watchers are not told."""
        if self._rv or self._tables:
            raise ValueError("restore needs an empty store")
        for obj in objects:
            self._table(obj.resource).put(obj, None)
        self._rv = rv

    def _table(self, resource: str) -> _Table:
        table = self._tables.get(resource)
        if table is None:
            table = self._tables[resource] = _Table(self._indexed_fields)
        return table


def key_of(obj: Mapping[str, Any]) -> Key:
    """The ``(namespace, name)`` an object's metadata names; ValueError without a name."""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(meta, Mapping) or not isinstance(name, str) or not name:
        raise ValueError("object has no metadata.name")
    return meta.get("namespace") or "", name


def check_current(
    old: StoredObject | None, resource: str, namespace: str, name: str, expect_rv: int | None
) -> StoredObject:
    """``old``, the version a write replaces; NotFound if there is none, Conflict if it is not ``expect_rv``."""
    if old is None:
        raise NotFound(resource, namespace, name)
    if expect_rv is not None and expect_rv != old.rv:
        raise Conflict(resource, namespace, name)
    return old


def tombstone(old: StoredObject, rv: int) -> StoredObject:
    """The last state of a deleted object, stamped with the deletion's resourceVersion ``rv``."""
    last = old.decode()
    last["metadata"]["resourceVersion"] = str(rv)
    return StoredObject(old.resource, old.namespace, old.name, rv, _dumps(last), old.labels, old.fields, old.owners)


def encode(
    resource: str, namespace: str, name: str, obj: dict[str, Any], old: StoredObject | None, rv: int
) -> StoredObject:
    """``obj`` serialized as version ``rv`` of its key (the caller's dict is untouched).

    Labels, fields and owners equal to the previous version's (``old``) are shared with it, which
    matters for the versions the watch history keeps.
    """
    raw = _dumps({**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}})
    return _stored(resource, namespace, name, rv, raw, obj, old)


def from_raw(resource: str, namespace: str, name: str, rv: int, raw: bytes, old: StoredObject | None) -> StoredObject:
    """A version rebuilt from its stored bytes (recovery); labels and fields as ``encode`` makes them."""
    return _stored(resource, namespace, name, rv, raw, orjson.loads(raw), old)


def _stored(
    resource: str, namespace: str, name: str, rv: int, raw: bytes, obj: Mapping[str, Any], old: StoredObject | None
) -> StoredObject:
    labels: Mapping[str, str] = obj["metadata"].get("labels") or _EMPTY
    fields: Mapping[str, str] = selectable_fields(resource, obj)
    labels = old.labels if old is not None and labels == old.labels else _interned(labels)
    fields = old.fields if old is not None and fields == old.fields else _interned(fields)
    owners = owner_uids(obj)
    if old is not None and owners == old.owners:
        owners = old.owners
    return StoredObject(resource, namespace, name, rv, raw, labels, fields, owners)


def owner_uids(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The uids an object's ``metadata.ownerReferences`` name, in order."""
    refs = obj["metadata"].get("ownerReferences")
    if not refs:
        return ()
    return tuple(uid for r in refs if isinstance(r, dict) and isinstance(uid := r.get("uid"), str) and uid)


def _dumps(obj: dict[str, Any]) -> bytes:
    """Compact JSON in a right-sized buffer (orjson's own result holds about 4x the bytes it uses)."""
    return memoryview(orjson.dumps(obj)).tobytes()


def _interned(values: Mapping[str, str]) -> Mapping[str, str]:
    """A compact copy: repeated keys and values (phases, node names, label values) share one string."""
    if not values:
        return _EMPTY
    return {sys.intern(k): sys.intern(v) for k, v in values.items()}


def _field_value(obj: StoredObject, field: str) -> str:
    if field == _NAME:
        return obj.name
    if field == _NAMESPACE:
        return obj.namespace
    return obj.fields.get(field, "")


class _Table:
    """One resource's current objects and the indexes that narrow a list."""

    __slots__ = ("spaces", "names", "index", "indexed_fields", "count")

    def __init__(self, indexed_fields: tuple[str, ...]) -> None:
        self.spaces: dict[str, dict[str, StoredObject]] = {}
        self.names: dict[str, list[str]] = {}  # per namespace, sorted
        self.index: dict[Term, set[Key]] = {}
        self.indexed_fields = indexed_fields
        self.count = 0

    def get(self, namespace: str, name: str) -> StoredObject | None:
        space = self.spaces.get(namespace)
        return space.get(name) if space is not None else None

    def put(self, obj: StoredObject, old: StoredObject | None) -> None:
        """Insert ``obj`` or replace ``old`` (same key) with it."""
        if old is None:
            self.spaces.setdefault(obj.namespace, {})
            insort(self.names.setdefault(obj.namespace, []), obj.name)
            self.count += 1
        self.spaces[obj.namespace][obj.name] = obj
        self._reindex(old, obj)

    def remove(self, old: StoredObject) -> None:
        space, names = self.spaces[old.namespace], self.names[old.namespace]
        del space[old.name]
        del names[bisect_left(names, old.name)]
        if not space:
            del self.spaces[old.namespace], self.names[old.namespace]
        self.count -= 1
        self._reindex(old, None)

    def select(self, query: Query) -> list[StoredObject]:
        """Objects matching ``query``, sorted by (namespace, name), through the narrowest index."""
        namespace = query.namespace
        fields = query.fields
        if fields is not None:
            pinned = fields.required_value(_NAMESPACE)
            if pinned is not None and namespace is not None and pinned != namespace:
                return []
            namespace = pinned if pinned is not None else namespace
            name = fields.required_value(_NAME)
            if name is not None:
                spaces = [namespace] if namespace is not None else sorted(self.spaces)
                found = (self.get(space, name) for space in spaces)
                return [obj for obj in found if obj is not None and query.matches(obj)]
        keys = self._narrowest(query)
        in_scope = self.count if namespace is None else len(self.spaces.get(namespace, ()))
        if keys is not None and len(keys) < in_scope:
            candidates: Iterable[StoredObject] = (self.spaces[ns][name] for ns, name in sorted(keys))
        else:
            candidates = self._scan(namespace)
        return [obj for obj in candidates if query.matches(obj)]

    def _scan(self, namespace: str | None) -> Iterator[StoredObject]:
        for ns in sorted(self.spaces) if namespace is None else [namespace]:
            space = self.spaces.get(ns, {})
            for name in self.names.get(ns, ()):
                yield space[name]

    def _narrowest(self, query: Query) -> set[Key] | None:
        """The smallest index entry (or union of entries) the query's equalities allow, if any."""
        options: list[set[Key]] = []
        if query.labels is not None:
            for key, values in query.labels.equality_requirements:
                sets = [self.index.get(("label", key, v), set()) for v in values]
                options.append(sets[0] if len(sets) == 1 else set().union(*sets))
        if query.fields is not None:
            for field in self.indexed_fields:
                value = query.fields.required_value(field)
                if value is not None:
                    options.append(self.index.get(("field", field, value), set()))
        return min(options, key=len, default=None)

    def _terms(self, obj: StoredObject | None) -> set[Term]:
        if obj is None:
            return set()
        terms = {("label", k, v) for k, v in obj.labels.items()}
        terms.update(("field", f, obj.fields.get(f, "")) for f in self.indexed_fields)
        return terms

    def _reindex(self, old: StoredObject | None, new: StoredObject | None) -> None:
        if old is not None and new is not None and old.labels is new.labels and old.fields is new.fields:
            return  # shared by ``encode`` when equal: the usual update changes neither
        before, after = self._terms(old), self._terms(new)
        if before == after:
            return
        obj = new if new is not None else old
        assert obj is not None
        key = (obj.namespace, obj.name)
        for term in before - after:
            keys = self.index[term]
            keys.discard(key)
            if not keys:
                del self.index[term]
        for term in after - before:
            self.index.setdefault(term, set()).add(key)


class _Watcher:
    """One open watch: its query, a bounded queue of events and the future its reader waits on."""

    __slots__ = ("resource", "query", "bucket", "queue", "waiter", "ended")

    def __init__(self, resource: str, query: Query, bucket: tuple[str, str] | None) -> None:
        self.resource = resource
        self.query = query
        self.bucket = bucket
        self.queue: deque[WatchEvent] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.ended: Literal["overflow", "closed"] | None = None

    def end(self, reason: Literal["overflow", "closed"]) -> None:
        self.ended = reason
        self.queue.clear()
        self.wake()

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class _ResourceWatchers:
    """The watchers of one resource: those pinned to a (field, value) bucket, and the rest."""

    __slots__ = ("unpinned", "buckets")

    def __init__(self) -> None:
        self.unpinned: set[_Watcher] = set()
        self.buckets: dict[tuple[str, str], set[_Watcher]] = {}


class _WatchHub:
    """History of recent changes and fan-out of new ones to the watchers that may want them."""

    def __init__(self, history_size: int, history_bytes: int, queue_size: int, bucket_fields: tuple[str, ...]) -> None:
        self.history: deque[WatchEvent] = deque()
        self.history_size = history_size
        self.history_bytes = history_bytes
        self._bytes = 0  # what the history's objects weigh, by ``_weight``
        self.queue_size = queue_size
        self.bucket_fields = bucket_fields  # most selective first
        self.watchers: dict[str, _ResourceWatchers] = {}
        self.watcher_count = 0
        self.closed = False

    def subscribe(
        self, resource: str, query: Query, since_rv: int, current_rv: int
    ) -> tuple[list[WatchEvent], _Watcher]:
        """Register a watcher; return it and the past changes (after ``since_rv``) it must see first."""
        watcher = _Watcher(resource, query, self._bucket_of(query))
        if self.closed:
            watcher.ended = "closed"
            return [], watcher
        oldest = self.history[0].obj.rv if self.history else current_rv + 1
        if since_rv < oldest - 1 or since_rv > current_rv:
            raise Gone(since_rv, oldest)
        missed = reversed(list(islice(reversed(self.history), current_rv - since_rv)))
        replay = [
            seen for event in missed if event.obj.resource == resource and (seen := _as_seen(query, event)) is not None
        ]
        group = self.watchers.setdefault(resource, _ResourceWatchers())
        if watcher.bucket is None:
            group.unpinned.add(watcher)
        else:
            group.buckets.setdefault(watcher.bucket, set()).add(watcher)
        self.watcher_count += 1
        return replay, watcher

    def unsubscribe(self, watcher: _Watcher) -> None:
        """Forget a watcher (idempotent)."""
        group = self.watchers.get(watcher.resource)
        if group is None:
            return
        members = group.unpinned if watcher.bucket is None else group.buckets.get(watcher.bucket, set())
        if watcher not in members:
            return
        members.remove(watcher)
        self.watcher_count -= 1
        if watcher.bucket is not None and not members:
            del group.buckets[watcher.bucket]
        if not group.unpinned and not group.buckets:
            del self.watchers[watcher.resource]

    def publish(self, event: WatchEvent) -> None:
        """Record a change and queue it (as each watcher sees it) for the watchers concerned."""
        self._remember(event)
        group = self.watchers.get(event.obj.resource)
        if group is None:
            return
        overflowed = [w for w in group.unpinned if not self._offer(w, event)]
        if group.buckets:
            for bucket in self._buckets_touched(event):
                overflowed.extend(w for w in group.buckets.get(bucket, ()) if not self._offer(w, event))
        for watcher in overflowed:
            self.unsubscribe(watcher)

    def _remember(self, event: WatchEvent) -> None:
        """Append to the history, dropping the oldest changes beyond its count or byte budget (the newest stays)."""
        self.history.append(event)
        self._bytes += _weight(event)
        while len(self.history) > 1 and (len(self.history) > self.history_size or self._bytes > self.history_bytes):
            self._bytes -= _weight(self.history.popleft())

    def close(self) -> None:
        self.closed = True
        for group in list(self.watchers.values()):
            for watcher in [*group.unpinned, *(w for ws in group.buckets.values() for w in ws)]:
                watcher.end("closed")
                self.unsubscribe(watcher)

    def _offer(self, watcher: _Watcher, event: WatchEvent) -> bool:
        """Queue ``event`` if the watcher wants it; False when that overflowed the watcher's queue."""
        seen = _as_seen(watcher.query, event)
        if seen is None:
            return True
        if len(watcher.queue) >= self.queue_size:
            watcher.end("overflow")
            return False
        watcher.queue.append(seen)
        watcher.wake()
        return True

    def _bucket_of(self, query: Query) -> tuple[str, str] | None:
        """The most selective (field, value) the query pins, if any."""
        for field in self.bucket_fields:
            value = query.fields.required_value(field) if query.fields is not None else None
            if value is None and field == _NAMESPACE:
                value = query.namespace
            if value is not None:
                return field, value
        return None

    def _buckets_touched(self, event: WatchEvent) -> set[tuple[str, str]]:
        prev = event.prev
        states = [event.obj] if prev is None or prev.fields is event.obj.fields else [event.obj, prev]
        return {(field, _field_value(obj, field)) for field in self.bucket_fields for obj in states}


def _weight(event: WatchEvent) -> int:
    """What keeping an event in the history costs, roughly: its object's bytes and bookkeeping."""
    return len(event.obj.raw) + _EVENT_OVERHEAD


def _as_seen(query: Query, event: WatchEvent) -> WatchEvent | None:
    """The event as a watcher with ``query`` sees it: as is, turned into ADDED/DELETED, or not at all."""
    if event.type != "MODIFIED" or event.prev is None:
        return event if query.matches(event.obj) else None
    now, before = query.matches(event.obj), query.matches(event.prev)
    if now and before:
        return event
    if now:
        return WatchEvent("ADDED", event.obj, event.prev)
    return WatchEvent("DELETED", event.obj, event.prev) if before else None
