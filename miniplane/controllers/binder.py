"""The scheduler's part: bind pending ``default-scheduler`` pods to a node that passes the filters.

For each unbound, non-terminating pod of the default scheduler, ``filter_nodes`` runs against the
cached nodes and the live pods bound to them. A fitting node (the one with the fewest pods, then
by name) gets the pod through ``bind_pod`` and a ``Scheduled`` event; otherwise the pod gets
``PodScheduled=False, reason: Unschedulable`` with the scheduler's message and a ``FailedScheduling``
event, and waits until a node is added or changes what it offers, or a bound pod goes away.

A pod pinned to node names (daemon pods carry ``matchFields metadata.name In [node]``) is filtered
against those nodes only, as the NodeAffinity PreFilter does, unless pod (anti-)affinity needs the
whole cluster. Pods are scheduled concurrently (writes wait for the store's log): each decision is
made and "assumed" in the local index before the first write, so the next pod sees it.
Namespace labels are not tracked: a ``namespaceSelector`` in a pod affinity term sees none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from miniplane.api.resources import bind_pod
from miniplane.controllers.bound_pods import BoundPods, PodKey
from miniplane.controllers.cached import node_view
from miniplane.controllers.feed import Feed, run_feeds
from miniplane.controllers.recorder import EventRecorder
from miniplane.controllers.workqueue import WorkQueue
from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.scheduling.fit import NOT_PRE_FILTERED, NodeFit, _pinned_node_names, filter_nodes, unschedulable_message
from miniplane.store import errors as store_errors
from miniplane.store.base import StoredObject, WatchEvent
from miniplane.timeutil import rfc3339, utcnow

log = logging.getLogger(__name__)

PODS, NODES = BY_KEY["pods"], BY_KEY["nodes"]
SCHEDULER_NAME = "default-scheduler"
Obj = dict[str, Any]


class Binder:
    """Schedules pods from a work queue, driven by pod and node watches."""

    def __init__(self, service: ObjectService, concurrency: int = 64, clock: Callable[[], datetime] = utcnow) -> None:
        self.service = service
        self.concurrency = concurrency
        self.clock = clock
        self.queue: WorkQueue[PodKey] = WorkQueue()
        self.nodes: dict[str, Obj] = {}
        self.bound = BoundPods()
        self.waiting: set[PodKey] = set()  # unschedulable pods, retried when the cluster changes
        self.recorder = EventRecorder(service, SCHEDULER_NAME, clock)

    async def run(self) -> None:
        """Prime the caches, then watch and bind until cancelled."""
        feeds = [
            Feed(self.service.store, NODES.key, self._list_nodes, self._on_node),
            Feed(self.service.store, PODS.key, self._list_pods, self._on_pod),
        ]
        await run_feeds(feeds, self.queue, [self._work])

    # ---- event handlers (no I/O) --------------------------------------------------------------

    def _list_nodes(self, items: list[StoredObject]) -> None:
        self.nodes = {o.name: node_view(o) for o in items}
        self._wake()

    def _on_node(self, event: WatchEvent) -> None:
        old = self.nodes.pop(event.obj.name, None)
        if event.type == "DELETED":
            return
        new = self.nodes[event.obj.name] = node_view(event.obj)
        if old is None or _offer(old) != _offer(new):
            self._wake()

    def _list_pods(self, items: list[StoredObject]) -> None:
        self.bound.clear()
        for obj in items:
            self._on_pod(WatchEvent("ADDED", obj))

    def _on_pod(self, event: WatchEvent) -> None:
        key = (event.obj.namespace, event.obj.name)
        pod = None if event.type == "DELETED" else event.obj.decode()
        spec = (pod or {}).get("spec") or {}
        node = spec.get("nodeName")
        if pod is None or (node and (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")):
            self.waiting.discard(key)
            if self.bound.remove(key):
                self._wake()
        elif node:
            self.waiting.discard(key)
            self.bound.put(key, node, pod)
        elif _pending(pod) and (event.type == "ADDED" or event.prev is None or event.prev.decode().get("spec") != spec):
            self.queue.add(key)  # a new pending pod, or one whose spec changed (status writes are ignored)

    def _wake(self) -> None:
        for key in self.waiting:
            self.queue.add(key)
        self.waiting.clear()

    # ---- scheduling ---------------------------------------------------------------------------

    async def _work(self) -> None:
        """Start ``schedule`` for each key, up to ``concurrency`` at a time: the decision and the
        local assumption happen before the first write, so concurrent pods see each other."""
        slots = asyncio.Semaphore(self.concurrency)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                key = await self.queue.get()
                await slots.acquire()
                task = asyncio.create_task(self._attempt(key, slots))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()

    async def _attempt(self, key: PodKey, slots: asyncio.Semaphore) -> None:
        try:
            await self.schedule(key)
            self.queue.forget(key)
        except (APIError, store_errors.StoreError) as err:
            log.info("scheduling %s/%s failed, retrying: %s", *key, err)
            self.bound.remove(key)
            self.queue.add_rate_limited(key)
        except Exception:
            log.exception("scheduling %s/%s crashed, retrying", *key)
            self.bound.remove(key)
            self.queue.add_rate_limited(key)
        finally:
            slots.release()
            self.queue.done(key)

    async def schedule(self, key: PodKey) -> None:
        """Bind the pod, or mark it unschedulable."""
        try:
            stored = await self.service.store.get(PODS.key, *key)
        except store_errors.NotFound:
            return
        pod = stored.decode()
        if not _pending(pod):
            return
        spec = pod["spec"]
        fits = self._filter(pod)
        fitting = [name for name, fit in fits.items() if fit.fits]
        if not fitting:
            self.waiting.add(key)
            message = self._message(fits)
            await self._mark_unschedulable(pod, message)
            await self.recorder.record(pod, "Warning", "FailedScheduling", message)
            return
        node = min(fitting, key=lambda name: (self.bound.count(name), name))
        self.bound.put(key, node, {**pod, "spec": {**spec, "nodeName": node}})  # assumed before any write: see _work
        try:
            await bind_pod(self.service, key[0], key[1], node)
        except APIError as err:
            if err.code in (404, 409):  # gone, bound by someone else, or being deleted: the watch tells
                return
            raise
        await self.recorder.record(pod, "Normal", "Scheduled", f"Successfully assigned {key[0]}/{key[1]} to {node}")

    def _filter(self, pod: Obj) -> dict[str, NodeFit]:
        """Filter results for the nodes that passed the PreFilter (for a pinned pod: its nodes)."""
        spec = pod["spec"]
        pinned = _pinned_node_names(spec)
        affinity = spec.get("affinity") or {}
        whole = self.bound.any_anti_affinity or affinity.get("podAffinity") or affinity.get("podAntiAffinity")
        names = list(self.nodes) if pinned is None or whole else [name for name in pinned if name in self.nodes]
        return filter_nodes(pod, [self.nodes[name] for name in names], self.bound.on(names))

    def _message(self, fits: dict[str, NodeFit]) -> str:
        """The scheduler's message, counting the nodes the PreFilter left out."""
        if len(fits) < len(self.nodes):
            skipped = NodeFit((NOT_PRE_FILTERED,), resolvable=False)
            fits = {**fits, **{name: skipped for name in self.nodes if name not in fits}}
        return unschedulable_message(fits)

    async def _mark_unschedulable(self, pod: Obj, message: str) -> None:
        """``PodScheduled=False, reason: Unschedulable`` (kept as is when already saying that)."""
        status = pod.setdefault("status", {})
        conditions = status.get("conditions") or []
        old: Obj = next((c for c in conditions if c.get("type") == "PodScheduled"), {})
        if old.get("status") == "False" and old.get("reason") == "Unschedulable" and old.get("message") == message:
            return
        since = old.get("lastTransitionTime") if old.get("status") == "False" else None
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": since or rfc3339(self.clock()),
            "reason": "Unschedulable",
            "message": message,
        }
        status["conditions"] = [c for c in conditions if c.get("type") != "PodScheduled"] + [condition]
        meta = pod["metadata"]
        await self.service.update(PODS, meta["namespace"], meta["name"], pod, subresource="status")


def _pending(pod: Obj) -> bool:
    """An unbound, non-terminating pod of the default scheduler."""
    spec = pod.get("spec") or {}
    return not spec.get("nodeName") and spec.get("schedulerName") == SCHEDULER_NAME and not _deleting(pod)


def _deleting(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _offer(node: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a node offers pods: a change here may make waiting pods fit."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    return labels, spec.get("taints") or [], bool(spec.get("unschedulable")), status.get("allocatable") or {}
