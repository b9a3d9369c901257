"""Pod garbage collection (§5.5), driven by watches and one deadline per missing node.

- Pods bound to a node that does not exist: the node's name starts a quarantine when it goes (or
  when a pod names a node never seen); once over, each such pod is marked Failed with
  ``DisruptionTarget`` (``DeletionByPodGC``) and deleted with grace 0. A node that comes back in
  time ends the quarantine.
- Unscheduled pods with a deletionTimestamp are deleted with grace 0 at once.

Not modelled: the terminated-pod threshold (12,500) and the ``out-of-service`` taint path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from miniplane.controllers.daemonset.podutil import is_terminating
from miniplane.controllers.feed import Feed
from miniplane.controllers.nodelifecycle.loop import NODES, PODS, pods_on, serve
from miniplane.controllers.nodelifecycle.plan import gc_time, orphan_status
from miniplane.controllers.workqueue import WorkQueue
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.store.base import StoredObject, WatchEvent
from miniplane.timeutil import utcnow

FORCE = {"gracePeriodSeconds": 0}

Key = tuple[str, ...]  # ("node", name) or ("pod", namespace, name)


class PodGarbageCollector:
    """Force-deletes pods of deleted nodes after a quarantine, and unscheduled terminating pods."""

    def __init__(self, service: ObjectService, quarantine: float, clock: Callable[[], datetime] = utcnow) -> None:
        self.service = service
        self.store = service.store
        self.clock = clock
        self.quarantine = timedelta(seconds=quarantine)
        self.queue: WorkQueue[Key] = WorkQueue()
        self.nodes: set[str] = set()
        self.missing_since: dict[str, datetime] = {}  # node name → when it was first found missing

    async def run(self) -> None:
        """Watch nodes and pods; collect pods until cancelled."""
        self.queue = WorkQueue()  # a fresh one after a crash: the old one was shut down
        feeds = [
            Feed(self.store, NODES, self._list_nodes, self._on_node),
            Feed(self.store, PODS, self._list_pods, self._on_pod),
        ]
        await serve(feeds, self.queue, self.handle)

    # ---- event handlers (no I/O) --------------------------------------------------------------

    def _list_nodes(self, items: list[StoredObject]) -> None:
        listed = {obj.name for obj in items}
        for gone in self.nodes - listed:
            self._missing(gone)
        self.nodes = listed
        for name in listed:
            self.missing_since.pop(name, None)

    def _on_node(self, event: WatchEvent) -> None:
        name = event.obj.name
        if event.type == "DELETED":
            self.nodes.discard(name)
            self._missing(name)
        else:
            self.nodes.add(name)
            self.missing_since.pop(name, None)

    def _list_pods(self, items: list[StoredObject]) -> None:
        for obj in items:
            self._on_pod(WatchEvent("ADDED", obj))

    def _on_pod(self, event: WatchEvent) -> None:
        obj = event.obj
        if event.type == "DELETED":
            return
        node = obj.fields.get("spec.nodeName")
        if node and node not in self.nodes:
            self._missing(node)
        elif not node and is_terminating(obj.decode()):
            self.queue.add(("pod", obj.namespace, obj.name))

    def _missing(self, node: str) -> None:
        since = self.missing_since.setdefault(node, self.clock())
        self._at(node, since + self.quarantine)

    def _at(self, node: str, when: datetime) -> None:
        self.queue.add_after(("node", node), (when - self.clock()).total_seconds())

    # ---- work ---------------------------------------------------------------------------------

    async def handle(self, key: Key) -> None:
        """Collect one unscheduled pod, or the pods of one missing node."""
        if key[0] == "pod":
            await self._collect(await self.store.get(PODS, key[1], key[2]), None)
            return
        node = key[1]
        if node in self.nodes:
            return
        pods = await pods_on(self.store, node)
        if not pods:
            self.missing_since.pop(node, None)
        for stored in pods:
            await self._collect(stored, self.missing_since.setdefault(node, self.clock()))

    async def _collect(self, stored: StoredObject, node_missing_since: datetime | None) -> None:
        """Force-delete the pod if its time has come, else wait for it."""
        pod = stored.decode()
        now = self.clock()
        when = gc_time(pod, node_missing_since, now, self.quarantine)
        if when is None:
            return
        if when > now:
            self._at(stored.fields.get("spec.nodeName", ""), when)
            return
        if node_missing_since is not None:
            status = orphan_status(pod, now)
            if status != pod.get("status"):
                pod["status"] = status
                await self.store.update(PODS, pod, expect_rv=stored.rv)
        await self.service.delete(BY_KEY[PODS], stored.namespace, stored.name, FORCE)
