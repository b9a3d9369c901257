"""Garbage collection through ownerReferences, and namespace clean-up.

Kubernetes' rules, on store watch events:
- an object whose owners are all gone is deleted (Background propagation of its owner);
- an owner terminating with the ``foregroundDeletion`` finalizer has its dependents deleted, and
  loses the finalizer once no dependent blocks it (``blockOwnerDeletion``) any more;
- an owner terminating with the ``orphan`` finalizer has its references removed from its
  dependents, then loses the finalizer;
- a terminating namespace has every object in it deleted, then goes away itself.

The collector keeps its own index (uid → key, owner uid → dependents) fed by the watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY, BY_KIND, RESOURCES
from miniplane.store import errors as store_errors
from miniplane.store.base import Query, StoredObject, WatchEvent

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (resource, namespace, name)
RELISTED = "RELISTED"  # a queued object from a list after a lost watch (not an event)


class GarbageCollector:
    """Deletes dependents of deleted owners; implements foreground and orphan deletion."""

    def __init__(self, service: ObjectService) -> None:
        self.service = service
        self.store = service.store
        self.uids: dict[str, Key] = {}
        self.uid_of: dict[Key, str] = {}
        self.terminating_namespaces: set[str] = set()
        self.owners: dict[Key, tuple[str, ...]] = {}  # dependent → owner uids
        self.dependents: dict[str, set[Key]] = defaultdict(set)
        self.queue: asyncio.Queue[tuple[str, StoredObject]] = asyncio.Queue()

    async def run(self) -> None:
        """Index every object, then react to changes until cancelled."""
        watchers = []
        for info in RESOURCES:
            items, rv = await self.store.list(info.key)
            for obj in items:
                self._index(obj)
            watchers.append(self._feed(info.key, rv))
        async with asyncio.TaskGroup() as tasks:
            for watcher in watchers:
                tasks.create_task(watcher)
            tasks.create_task(self._initial_sweep())
            tasks.create_task(self._work())

    async def _feed(self, resource: str, rv: int) -> None:
        while True:
            try:
                async for event in self.store.watch(resource, Query(), rv):
                    rv = event.obj.rv
                    if not _owners_kept(event):
                        self.queue.put_nowait((event.type, event.obj))
                return
            except (store_errors.Gone, store_errors.WatchOverflow):
                items, rv = await self.store.list(resource)
                for obj in items:
                    self.queue.put_nowait((RELISTED, obj))

    async def _initial_sweep(self) -> None:
        for key in list(self.owners):
            self.queue.put_nowait(("SWEEP", _key_object(key)))

    async def _work(self) -> None:
        while True:
            kind, obj = await self.queue.get()
            try:
                await self._handle(kind, obj)
            except APIError as err:
                if err.code not in (404, 409):
                    log.warning("garbage collector: %s %s/%s: %s", kind, obj.namespace, obj.name, err.message)
            except store_errors.StoreError as err:
                log.debug("garbage collector: %s", err)

    async def _handle(self, kind: str, obj: StoredObject) -> None:
        key = (obj.resource, obj.namespace, obj.name)
        if kind == "SWEEP":
            await self._collect_orphaned(key)
            return
        if kind == "DELETED":
            uid = self._unindex(key)
            owners_to_check = self.owners_of(key)
            self.owners.pop(key, None)
            for owner_uid in owners_to_check:
                self.dependents[owner_uid].discard(key)
                owner = self.uids.get(owner_uid)
                if owner is not None:
                    await self._check_owner(owner)
            if uid:
                for dependent in list(self.dependents.pop(uid, ())):
                    await self._collect_orphaned(dependent)
            if obj.resource == "namespaces":
                self.terminating_namespaces.discard(obj.name)
            elif obj.namespace in self.terminating_namespaces:
                await self._empty_namespace(obj.namespace)
            return
        self._index(obj, refresh=kind == RELISTED)
        if b'"deletionTimestamp"' in obj.raw:
            await self._check_owner(key, obj.decode())
        await self._collect_orphaned(key)

    def owners_of(self, key: Key) -> tuple[str, ...]:
        """The owner uids a dependent refers to."""
        return self.owners.get(key, ())

    # ---- index -------------------------------------------------------------------------------

    def _index(self, obj: StoredObject, refresh: bool = False) -> None:
        """Note the object's uid and owners; ``refresh``: it may have been deleted and created again unseen."""
        key = (obj.resource, obj.namespace, obj.name)
        unchanged = key in self.uid_of and not refresh and obj.owners == self.owners.get(key, ())
        if unchanged and (obj.resource != "namespaces" or b'"deletionTimestamp"' not in obj.raw):
            return  # a known object whose owners stay (Lease renewals, status writes): nothing to index
        data = obj.decode()
        meta = data.get("metadata", {})
        if meta.get("uid"):
            self.uids[meta["uid"]] = key
            self.uid_of[key] = meta["uid"]
        if obj.resource == "namespaces" and meta.get("deletionTimestamp"):
            self.terminating_namespaces.add(obj.name)
        old = self.owners.pop(key, ())
        for uid in old:
            self.dependents[uid].discard(key)
        refs = obj.owners
        if refs:
            self.owners[key] = refs
            for uid in refs:
                self.dependents[uid].add(key)

    def _unindex(self, key: Key) -> str | None:
        uid = self.uid_of.pop(key, None)
        if uid is not None:
            self.uids.pop(uid, None)
        return uid

    # ---- actions -----------------------------------------------------------------------------

    async def _collect_orphaned(self, key: Key) -> None:
        """Delete a dependent whose owners are all gone (confirmed by reading them from the store).

        The index is fed by one watch per resource, so an owner's ADDED may arrive after its
        dependent's: only a live read of each owner decides that it is gone.
        """
        refs = self.owners.get(key)
        if not refs or any(uid in self.uids for uid in refs):
            return
        try:
            data = (await self.store.get(*key)).decode()
        except store_errors.NotFound:
            return
        for ref in data["metadata"].get("ownerReferences", []):
            if await self._owner_exists(ref, key[1]):
                return
        info = BY_KEY[key[0]]
        await self.service.delete(info, key[1], key[2], {"propagationPolicy": "Background"})

    async def _owner_exists(self, ref: dict[str, Any], namespace: str) -> bool:
        info = BY_KIND.get((ref.get("apiVersion", ""), ref.get("kind", "")))
        if info is None:
            return False
        try:
            owner = await self.store.get(info.key, namespace if info.namespaced else "", ref.get("name", ""))
        except store_errors.NotFound:
            return False
        return bool(owner.decode()["metadata"].get("uid") == ref.get("uid"))

    async def _dependents(self, owner_uid: str, namespace: str) -> list[Key]:
        """Dependents of an owner, read from the store (authoritative, unlike the watch-fed index)."""
        found = set(self.dependents.get(owner_uid, ()))
        for info in RESOURCES:
            if not info.namespaced and namespace:
                continue
            items, _ = await self.store.list(info.key, Query(namespace=namespace or None))
            for item in items:
                if b'"ownerReferences"' in item.raw and owner_uid.encode() in item.raw:
                    refs = item.decode()["metadata"].get("ownerReferences", [])
                    if any(r.get("uid") == owner_uid for r in refs):
                        found.add((item.resource, item.namespace, item.name))
        return sorted(found)

    async def _check_owner(self, key: Key, data: dict[str, Any] | None = None) -> None:
        """Progress foreground/orphan deletion and namespace termination of a terminating owner."""
        info = BY_KEY[key[0]]
        if data is None:
            try:
                data = (await self.store.get(*key)).decode()
            except store_errors.NotFound:
                return
        meta = data["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        finalizers = meta.get("finalizers", [])
        uid = meta.get("uid", "")
        if info.kind == "Namespace":
            await self._empty_namespace(key[2])
            return
        dependents = await self._dependents(uid, key[1]) if {"orphan", "foregroundDeletion"} & set(finalizers) else []
        if "orphan" in finalizers:
            for dep in dependents:
                await self._drop_owner_ref(dep, uid)
            await self._remove_finalizer(key, "orphan")
        elif "foregroundDeletion" in finalizers:
            blocking = [d for d in dependents if await self._blocks(d, uid)]
            for dep in dependents:
                await self.service.delete(BY_KEY[dep[0]], dep[1], dep[2], {"propagationPolicy": "Foreground"})
            if not blocking:
                await self._remove_finalizer(key, "foregroundDeletion")

    async def _blocks(self, dep: Key, owner_uid: str) -> bool:
        try:
            data = (await self.store.get(*dep)).decode()
        except store_errors.NotFound:
            return False
        refs = data["metadata"].get("ownerReferences", [])
        return any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion") for r in refs)

    async def _drop_owner_ref(self, dep: Key, owner_uid: str) -> None:
        try:
            stored = await self.store.get(*dep)
        except store_errors.NotFound:
            return
        data = stored.decode()
        refs = data["metadata"].get("ownerReferences", [])
        kept = [r for r in refs if r.get("uid") != owner_uid]
        if kept == refs:
            return
        if kept:
            data["metadata"]["ownerReferences"] = kept
        else:
            data["metadata"].pop("ownerReferences", None)
        await self.store.update(dep[0], data, expect_rv=stored.rv)

    async def _remove_finalizer(self, key: Key, finalizer: str) -> None:
        stored = await self.store.get(*key)
        data = stored.decode()
        finalizers = [f for f in data["metadata"].get("finalizers", []) if f != finalizer]
        if finalizers:
            data["metadata"]["finalizers"] = finalizers
        else:
            data["metadata"].pop("finalizers", None)
        info = BY_KEY[key[0]]
        await self.service.update(info, key[1], key[2], data)

    async def _empty_namespace(self, namespace: str) -> None:
        remaining = 0
        for info in RESOURCES:
            if not info.namespaced:
                continue
            items, _ = await self.store.list(info.key, Query(namespace=namespace))
            remaining += len(items)
            for item in items:
                try:
                    await self.service.delete(info, namespace, item.name, {"gracePeriodSeconds": 0})
                except APIError as err:
                    if err.code != 404:
                        raise
        if remaining == 0:
            with contextlib.suppress(store_errors.NotFound):
                await self.store.delete(BY_KEY["namespaces"].key, "", namespace)


def _key_object(key: Key) -> StoredObject:
    return StoredObject(key[0], key[1], key[2], 0, b"{}", {}, {})


def _owners_kept(event: WatchEvent) -> bool:
    """An update that leaves the owners as they were, of an object not being deleted (Lease renewals,
    status writes): nothing for the collector, whose index holds the previous version's owners."""
    prev = event.prev
    return (
        event.type == "MODIFIED"
        and prev is not None
        and event.obj.owners == prev.owners
        and b'"deletionTimestamp"' not in event.obj.raw
    )
