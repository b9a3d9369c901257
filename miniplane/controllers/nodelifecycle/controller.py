"""The node lifecycle controller, with taint-based eviction (§5.2–5.4), driven by watches and deadlines.

Work keys and what brings them:
- ``("node", name)``: any change of the Node, and its heartbeat deadline (one pending timer per
  node; a Lease renewal needs no work, the deadline re-checks the newest ``renewTime`` when it
  fires). ``plan_node`` decides; conditions and taints go out in one store write. When Ready just
  went Unknown the Node gets ``NodeNotReady``. A deadline that finds the Node as it was at the last
  check, which needed no write, and its Lease renewed since, only re-arms the timer: the Node's own
  heartbeat was kept from that check, so the Node is not decoded again.
- ``("ready", ns, pod)``: a pod on a node whose Ready is Unknown (every pod there when the node
  turns Unknown, and any pod change there later): its Ready condition goes False, with a Warning
  ``NodeNotReady`` on the pod.
- ``("evict", ns, pod)``: a pod on a node with NoExecute taints (every pod there when that set
  changes, any pod change there later, and the pod's ``tolerationSeconds`` deadline): deleted
  through the ObjectService once ``eviction_time`` has come, after a ``DisruptionTarget`` condition.

Kubernetes' rate limit on NoExecute tainting (``--node-eviction-rate``, zone disruption states) is
not modelled: taints follow conditions at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from miniplane.controllers.feed import Feed
from miniplane.controllers.nodelifecycle.loop import NODES, PODS, pods_on, serve
from miniplane.controllers.nodelifecycle.plan import (
    READY,
    Heartbeat,
    TimedTaint,
    evicted_status,
    eviction_time,
    later_deadline,
    lease_renew_time,
    node_condition,
    noexecute_taints,
    own_heartbeat,
    plan_node,
    pod_not_ready,
    with_changes,
)
from miniplane.controllers.recorder import EventRecorder
from miniplane.controllers.workqueue import WorkQueue
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.store.base import Query, StoredObject, WatchEvent
from miniplane.timeutil import utcnow

LEASES = BY_KEY["leases.coordination.k8s.io"].key
LEASE_NAMESPACE = "kube-node-lease"
SOURCE_COMPONENT = "node-controller"

Key = tuple[str, ...]


class NodeLifecycleController:
    """Marks silent nodes Unknown, keeps condition taints in sync, marks and evicts their pods."""

    def __init__(
        self,
        service: ObjectService,
        grace_period: float,
        startup_grace_period: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.service = service
        self.store = service.store
        self.clock = clock
        self.grace = timedelta(seconds=grace_period)
        self.startup_grace = timedelta(seconds=startup_grace_period)
        self.recorder = EventRecorder(service, SOURCE_COMPONENT, clock)
        self.queue: WorkQueue[Key] = WorkQueue()
        self.nodes: dict[str, StoredObject] = {}
        self.leases: dict[str, StoredObject] = {}  # node → its Lease (decoded only when a deadline needs it)
        self.first_seen: dict[str, datetime] = {}
        self.unknown: set[str] = set()  # nodes whose Ready condition is Unknown
        self.noexecute: dict[str, tuple[TimedTaint, ...]] = {}  # node → its NoExecute taints, with start times
        self.settled: dict[str, tuple[int, Heartbeat]] = {}  # node → version that needed no write, its heartbeat

    async def run(self) -> None:
        """Watch nodes, node leases and pods; act on them until cancelled."""
        self.queue = WorkQueue()  # a fresh one after a crash: the old one was shut down
        feeds = [
            Feed(self.store, NODES, self._list_nodes, self._on_node),
            Feed(self.store, LEASES, self._list_leases, self._on_lease, Query(namespace=LEASE_NAMESPACE)),
            Feed(self.store, PODS, self._list_pods, self._on_pod),
        ]
        await serve(feeds, self.queue, self.handle)

    # ---- event handlers (no I/O) --------------------------------------------------------------

    def _list_nodes(self, items: list[StoredObject]) -> None:
        listed = {obj.name for obj in items}
        for name in [name for name in self.nodes if name not in listed]:
            self._forget_node(name)
        for obj in items:
            self._on_node(WatchEvent("ADDED", obj))

    def _on_node(self, event: WatchEvent) -> None:
        name = event.obj.name
        if event.type == "DELETED":
            self._forget_node(name)
            return
        self.nodes[name] = event.obj
        self.first_seen.setdefault(name, self.clock())
        self.queue.add(("node", name))

    def _forget_node(self, name: str) -> None:
        for state in (self.nodes, self.first_seen, self.noexecute, self.settled):
            state.pop(name, None)
        self.unknown.discard(name)

    def _list_leases(self, items: list[StoredObject]) -> None:
        self.leases = {obj.name: obj for obj in items}

    def _on_lease(self, event: WatchEvent) -> None:
        if event.type == "DELETED":
            self.leases.pop(event.obj.name, None)
        else:
            self.leases[event.obj.name] = event.obj

    def _renewed(self, name: str) -> datetime | None:
        """The newest ``renewTime`` of the node's Lease (renewals come far more often than deadlines)."""
        lease = self.leases.get(name)
        return None if lease is None else lease_renew_time(lease.decode())

    def _list_pods(self, items: list[StoredObject]) -> None:
        for obj in items:
            self._on_pod(WatchEvent("ADDED", obj))

    def _on_pod(self, event: WatchEvent) -> None:
        obj = event.obj
        node = obj.fields.get("spec.nodeName")
        if event.type == "DELETED" or not node:
            return
        if node in self.unknown:
            self.queue.add(("ready", obj.namespace, obj.name))
        if self.noexecute.get(node):
            self.queue.add(("evict", obj.namespace, obj.name))

    def _at(self, key: Key, when: datetime) -> None:
        self.queue.add_after(key, (when - self.clock()).total_seconds())

    # ---- work ---------------------------------------------------------------------------------

    async def handle(self, key: Key) -> None:
        """Decide and act for one key."""
        kind, *rest = key
        if kind == "node":
            await self._sync_node(rest[0])
        elif kind == "ready":
            await self._mark_not_ready(rest[0], rest[1])
        else:
            await self._evict(rest[0], rest[1])

    async def _sync_node(self, name: str) -> None:
        stored = self.nodes.get(name)
        if stored is None:
            return
        now = self.clock()
        renewed = self._renewed(name)
        settled = self.settled.get(name)
        if settled is not None and settled[0] == stored.rv:
            deadline = later_deadline(settled[1], renewed)
            if now < deadline:
                self._at(("node", name), deadline)
                return
        node = stored.decode()
        first_seen = self.first_seen.setdefault(name, now)
        plan = plan_node(node, renewed, first_seen, now, self.grace, self.startup_grace)
        if plan.recheck_at is not None:
            self._at(("node", name), plan.recheck_at)
            if plan.conditions is None and plan.taints is None:
                self.settled[name] = stored.rv, own_heartbeat(node, first_seen, self.grace, self.startup_grace)
        if plan.conditions is not None or plan.taints is not None:
            node = with_changes(node, plan.conditions, plan.taints)
            node = (await self.store.update(NODES, node, expect_rv=stored.rv)).decode()
        if plan.lost:
            await self.recorder.record(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        await self._track(name, node, now)

    async def _track(self, name: str, node: dict[str, Any], now: datetime) -> None:
        """Follow the node's Ready status and NoExecute taints; queue its pods when either changes."""
        unknown = node_condition(node, READY) == "Unknown"
        turned_unknown = unknown and name not in self.unknown
        if unknown:
            self.unknown.add(name)
        else:
            self.unknown.discard(name)
        previous = self.noexecute.get(name, ())
        taints = noexecute_taints(node, previous, now)
        self.noexecute[name] = taints
        if not turned_unknown and (taints == previous or not taints):
            return
        for pod in await pods_on(self.store, name):
            if turned_unknown:
                self.queue.add(("ready", pod.namespace, pod.name))
            if taints and taints != previous:
                self.queue.add(("evict", pod.namespace, pod.name))

    async def _mark_not_ready(self, namespace: str, name: str) -> None:
        stored = await self.store.get(PODS, namespace, name)
        if stored.fields.get("spec.nodeName") not in self.unknown:
            return
        pod = stored.decode()
        status = pod_not_ready(pod, self.clock())
        if status is None:
            return
        pod["status"] = status
        await self.store.update(PODS, pod, expect_rv=stored.rv)
        await self.recorder.record(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def _evict(self, namespace: str, name: str) -> None:
        stored = await self.store.get(PODS, namespace, name)
        taints = self.noexecute.get(stored.fields.get("spec.nodeName", ""))
        if not taints:
            return
        pod = stored.decode()
        now = self.clock()
        when = eviction_time(pod, taints)
        if when is None:
            return
        if when > now:
            self._at(("evict", namespace, name), when)
            return
        status = evicted_status(pod, now)
        if status != pod.get("status"):
            pod["status"] = status
            await self.store.update(PODS, pod, expect_rv=stored.rv)
        message = f"Marking for deletion Pod {namespace}/{name}"
        await self.recorder.record(pod, "Normal", "TaintManagerEviction", message)
        await self.service.delete(BY_KEY[PODS], namespace, name)
