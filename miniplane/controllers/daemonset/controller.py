"""The DaemonSet controller: watches, a work queue of DaemonSet keys, and one sync per key.

Watches DaemonSets, nodes, ControllerRevisions and pods through the store (``Feed``) and maps each
change to the DaemonSets it concerns (``triggers.py``). Nodes (as ``cached.node_view``) and
DaemonSets are cached decoded; pods and revisions are listed per namespace at each sync, and a
pod is decoded again only when it changed since the DaemonSet's last sync (``podviews.py``).
A sync (``README.md``'s flow):

    history plan → apply it → pod plan → adopt/release → delete, create (slow start) → events
    → prune old revisions → status (only when it changed) → re-sync after ``requeue_after``

No expectations: the controller reads the store it writes. No periodic resync. A failing sync is
logged and re-queued with back-off; it never stops the loop. ``pacing.py`` spaces the syncs of
very large DaemonSets and runs their planning with the garbage collector paused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from miniplane.controllers.cached import node_view
from miniplane.controllers.daemonset import events, triggers
from miniplane.controllers.daemonset.apply import DAEMONSETS, PODS, PlanApplier
from miniplane.controllers.daemonset.backoff import Backoff, prune_backoff
from miniplane.controllers.daemonset.claim import selector, selects_all
from miniplane.controllers.daemonset.history import plan_history
from miniplane.controllers.daemonset.pacing import Pacer
from miniplane.controllers.daemonset.plan import compute_plan
from miniplane.controllers.daemonset.podviews import PodViews
from miniplane.controllers.daemonset.revisions import REVISIONS
from miniplane.controllers.feed import Feed, run_feeds
from miniplane.controllers.recorder import EventRecorder
from miniplane.controllers.workqueue import WorkQueue
from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.store import errors as store_errors
from miniplane.store.base import Query, StoredObject, WatchEvent
from miniplane.timeutil import utcnow

log = logging.getLogger(__name__)

NODES = BY_KEY["nodes"]
BACKOFF_PRUNE_PERIOD = 60.0
Key = triggers.Key


class DaemonSetController:
    """Keeps every DaemonSet's pods, revisions and status in line with its spec."""

    def __init__(self, service: ObjectService, workers: int = 2, clock: Callable[[], datetime] = utcnow) -> None:
        self.service = service
        self.store = service.store
        self.workers = workers
        self.clock = clock
        self.queue: WorkQueue[Key] = WorkQueue()
        self.daemonsets: dict[Key, triggers.CachedDaemonSet] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.backoff: dict[str, Backoff] = {}
        self.pacer: Pacer[Key] = Pacer(self.queue)
        self.pod_views = PodViews()
        self.recorder = EventRecorder(service, events.SOURCE_COMPONENT, clock)
        self.applier = PlanApplier(service, self.recorder)

    async def run(self) -> None:
        """Prime the caches, then watch, work and prune back-off entries until cancelled."""
        feeds = [
            Feed(self.store, DAEMONSETS.key, self._list_daemonsets, self._on_daemonset),
            Feed(self.store, NODES.key, self._list_nodes, self._on_node),
            Feed(self.store, REVISIONS.key, self._list_owned, self._on_revision),
            Feed(self.store, PODS.key, self._list_owned, self._on_pod),
        ]
        await run_feeds(feeds, self.queue, [self._work] * self.workers + [self._prune_backoff])

    # ---- event handlers (no I/O) --------------------------------------------------------------

    def _list_daemonsets(self, items: list[StoredObject]) -> None:
        self.daemonsets = {(o.namespace, o.name): triggers.CachedDaemonSet.of(o.decode()) for o in items}
        for key in self.daemonsets:
            self.pacer.enqueue(key)

    def _on_daemonset(self, event: WatchEvent) -> None:
        key = (event.obj.namespace, event.obj.name)
        if event.type == "DELETED":
            self.daemonsets.pop(key, None)
            self.pacer.forget(key)
            self.pod_views.forget(key)
            return
        self.daemonsets[key] = triggers.CachedDaemonSet.of(event.obj.decode())
        if triggers.daemonset_changed(event):
            self.pacer.enqueue(key)

    def _list_nodes(self, items: list[StoredObject]) -> None:
        self.nodes = {o.name: node_view(o) for o in items}
        self._list_owned(items)

    def _on_node(self, event: WatchEvent) -> None:
        old = self.nodes.pop(event.obj.name, None)
        new = None if event.type == "DELETED" else node_view(event.obj)
        if new is not None:
            self.nodes[event.obj.name] = new
        for key in triggers.node_wakes(old, new, self.daemonsets):
            self.pacer.enqueue(key)

    def _list_owned(self, items: list[StoredObject]) -> None:
        """After a re-list of pods, revisions or nodes, every DaemonSet may be concerned."""
        for key in self.daemonsets:
            self.pacer.enqueue(key)

    def _on_revision(self, event: WatchEvent) -> None:
        for key, delay in triggers.owned_object_wakes(event, self.daemonsets, wake_on_owned_add=False):
            self.pacer.enqueue(key, delay)

    def _on_pod(self, event: WatchEvent) -> None:
        for key, delay in triggers.owned_object_wakes(event, self.daemonsets, wake_on_owned_add=True):
            self.pacer.enqueue(key, delay)

    # ---- work ---------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            self.pacer.started(key)
            try:
                await self.sync(key)
                self.queue.forget(key)
            except (APIError, store_errors.StoreError) as err:
                log.info("daemonset %s/%s: sync failed, retrying: %s", *key, err)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("daemonset %s/%s: sync crashed, retrying", *key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
                self.pacer.finished(key)

    async def _prune_backoff(self) -> None:
        while True:
            await asyncio.sleep(BACKOFF_PRUNE_PERIOD)
            self.backoff = prune_backoff(self.backoff, self.clock())

    async def sync(self, key: Key) -> None:
        """One full sync of the DaemonSet ``key``."""
        try:
            stored = await self.store.get(DAEMONSETS.key, *key)
        except store_errors.NotFound:
            return
        ds = stored.decode()
        if ds["metadata"].get("deletionTimestamp") or selector(ds) is None:
            return
        if selects_all(ds):
            event = events.selecting_all()
            await self.recorder.record(ds, event.type, event.reason, event.message)
            return
        revisions = [o.decode() for o in (await self.store.list(REVISIONS.key, Query(namespace=key[0])))[0]]
        pods = await self._pods(key, ds)
        with self.pacer.planning(key):
            history = plan_history(ds, revisions, pods)
        if history.collision:
            await self.applier.bump_collision_count(ds)
            self.queue.add_rate_limited(key)
            return
        await self.applier.apply_history(ds, history)
        if history.relabel_pods:
            pods = await self._pods(key, ds)
        with self.pacer.planning(key):
            plan = compute_plan(ds, list(self.nodes.values()), pods, history.current_hash, self.clock(), self.backoff)
            claimed = {*plan.adopt, *plan.release}
            uids = {
                p["metadata"]["name"]: p["metadata"].get("uid", "") for p in pods if p["metadata"]["name"] in claimed
            }
        await self.applier.claim_pods(ds, plan, uids)
        errors = await self.applier.apply_pods(ds, plan)
        self.backoff.update(plan.backoff)
        await self.applier.delete_revisions(key[0], history.prune)
        if plan.status is not None and plan.status.needs_write(ds):
            await self.applier.write_status(ds, plan.status)
        if errors:
            raise errors[0]
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)
        log.debug("daemonset %s/%s synced: %s", *key, plan.fields())

    async def _pods(self, key: Key, ds: dict[str, Any]) -> list[dict[str, Any]]:
        """The namespace's pods the DaemonSet may claim: those its selector matches, and those
        naming its uid (owned ones that may have to be released); others are not decoded."""
        sel, uid = selector(ds), ds["metadata"]["uid"].encode()
        items = (await self.store.list(PODS.key, Query(namespace=key[0])))[0]
        with self.pacer.planning(key):
            return self.pod_views.select(
                key, items, lambda o: (sel is not None and sel.matches(o.labels)) or uid in o.raw
            )
