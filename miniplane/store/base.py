"""The store interface every backend implements (in-memory now, durable and etcd later).

The store is a versioned key-value map like etcd: one global, monotonically increasing
resourceVersion; every write gets the next one. Keys are ``(resource, namespace, name)`` where
``resource`` is the group-qualified plural (``pods``, ``daemonsets.apps``) and ``namespace`` is
``""`` for cluster-scoped objects. Objects are kept serialized (compact JSON bytes, ready to serve)
plus the few fields list filters and indexes need. Kubernetes semantics above plain storage
(uid, generation, finalizers, validation) live in the API layer, not here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from miniplane.selectors import FieldSelector, LabelSelector

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One stored version of an object: its encoded bytes and what indexes need."""

    resource: str
    namespace: str
    name: str
    rv: int
    raw: bytes  # compact JSON; metadata.resourceVersion == str(rv)
    labels: Mapping[str, str]
    fields: Mapping[str, str]  # selectable fields, e.g. {"metadata.name": "p", "spec.nodeName": "n1"}
    owners: tuple[str, ...] = ()  # the uids in metadata.ownerReferences (the garbage collector's index)

    def decode(self) -> dict[str, Any]:
        """Return a fresh, mutable dict of the object."""
        obj: dict[str, Any] = orjson.loads(self.raw)
        return obj


@dataclass(frozen=True, slots=True)
class Query:
    """Which objects of one resource a list or watch wants."""

    namespace: str | None = None  # None = all namespaces
    labels: LabelSelector | None = None
    fields: FieldSelector | None = None

    def matches(self, obj: StoredObject) -> bool:
        """Whether the object passes the namespace, label and field filters."""
        if self.namespace is not None and obj.namespace != self.namespace:
            return False
        if self.labels is not None and not self.labels.matches(obj.labels):
            return False
        return self.fields is None or self.fields.matches(obj.fields)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A change as a watcher sees it (after selector filtering)."""

    type: EventType
    obj: StoredObject  # for DELETED: the last state, carrying the deletion's resourceVersion
    prev: StoredObject | None = None  # the state before this change, if any


@dataclass(frozen=True, slots=True)
class StoreStatistics:
    """Counts for /metrics and benchmarks."""

    current_rv: int
    objects: Mapping[str, int] = field(default_factory=dict)  # per resource
    watchers: int = 0
    history_events: int = 0
    oldest_rv: int = 0


class Store(Protocol):
    """The contract; ``tests/contract/store_contract.py`` checks every backend against it."""

    @property
    def current_rv(self) -> int:
        """The resourceVersion of the newest write (0 for an empty store)."""
        ...

    async def get(self, resource: str, namespace: str, name: str) -> StoredObject:
        """The current object; raises NotFound."""
        ...

    async def list(self, resource: str, query: Query = Query()) -> tuple[list[StoredObject], int]:
        """Matching objects sorted by (namespace, name), and the resourceVersion they reflect."""
        ...

    async def create(self, resource: str, obj: dict[str, Any]) -> StoredObject:
        """Store a new object (its metadata names the key); raises AlreadyExists."""
        ...

    async def update(self, resource: str, obj: dict[str, Any], expect_rv: int | None = None) -> StoredObject:
        """Replace an existing object; ``expect_rv`` (if given) must equal the stored one, else Conflict."""
        ...

    async def delete(self, resource: str, namespace: str, name: str, expect_rv: int | None = None) -> StoredObject:
        """Remove an object; returns its last state stamped with the deletion's resourceVersion."""
        ...

    def watch(
        self, resource: str, query: Query = Query(), since_rv: int | None = None
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes after ``since_rv`` (None: from now on), filtered by ``query``.

        Raises Gone (on first iteration) when ``since_rv`` is older than the history window, and
        WatchOverflow when the watcher falls too far behind. An object that stops matching the
        query arrives as DELETED, one that starts matching as ADDED (Kubernetes' filtered watch).
        An async generator: ``aclose()``, or cancelling the task reading it, ends the watch.
        """
        ...

    def statistics(self) -> StoreStatistics:
        """Counters for /metrics."""
        ...

    async def close(self) -> None:
        """Release resources (files, connections, watchers)."""
        ...
