"""The simulated fleet: N nodes in one process, as cheap as possible, each acting like an agent.

Tasks (all on one event loop):
- *join*: nodes join at ``join_rate`` per second (0: as fast as the server takes them): exchange the
  join token for the node's own token, create the Node (an existing one gets its status re-posted),
  create or take over its Lease;
- *clock*: one heap of timers (``Timers``) for every node's Lease renewal (every heartbeat interval,
  ±4%), Node status report (every 5 minutes, Kubernetes' nodeStatusReportFrequency) and pod start;
- *pod watch*: ONE watch of every bound pod (``fieldSelector=spec.nodeName!=``), kwok style, whose
  events are dispatched to the node each pod is bound to (``pods.decide``); pods bound to nodes of
  other processes are ignored;
- *node watch*: ONE watch of the Nodes: a node whose server copy turns unhealthy (the node lifecycle
  controller marked it Unknown) re-posts its status at once, a deleted one registers again;
- *workers*: a heartbeat pool (Leases, Node status) and a pod pool (pod status, deletions), so pod
  work never delays heartbeats; every write carries the writing node's own token (``FleetHTTP``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from miniplane.simulate import nodes as sim_nodes
from miniplane.simulate.pods import Action, PodFacts, PodRecord, decide, delete_options, running_status
from miniplane.simulate.stats import Stats
from miniplane.simulate.timers import Timers
from miniplane.simulate.transport import CONNECTION_ERRORS, FleetHTTP
from miniplane.timeutil import rfc3339, rfc3339_micro, utcnow
from miniplane.wire.client import MERGE_PATCH, APIError, WatchExpired, path

log = logging.getLogger("miniplane.simulate")

STATUS_REPORT_INTERVAL = 300.0  # Kubernetes' nodeStatusReportFrequency
HEARTBEAT_WORKERS = 128
POD_WORKERS = 32
JOIN_CONCURRENCY = 32
BOUND_PODS = {"fieldSelector": "spec.nodeName!="}
PodKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class SimConfig:
    """``miniplane simulate`` flags."""

    server: str
    join_token: str
    nodes: int
    pod_start_delay: float = 1.0
    name_prefix: str = "sim-"
    labels: dict[str, str] = field(default_factory=dict)
    heartbeat_interval: float = 10.0
    join_rate: float = 0.0  # nodes per second; 0: as fast as possible
    connections: int = 256
    stats_file: Path | None = None


@dataclass(slots=True)
class SimNode:
    """One simulated node's state."""

    index: int
    name: str
    ip: str
    token: str = ""
    uid: str = ""
    lease_rv: str = ""
    ready_since: str = ""
    registered: bool = False
    status_queued: bool = False


class Fleet:
    """N simulated nodes sharing one connection pool, one clock and one pod watch."""

    def __init__(self, config: SimConfig, http: FleetHTTP) -> None:
        self.config = config
        self.http = http
        names = sim_nodes.node_names(config.name_prefix, config.nodes)
        self.nodes = [SimNode(i, name, sim_nodes.address(i)) for i, name in enumerate(names)]
        self.by_name = {node.name: node for node in self.nodes}
        self.template = sim_nodes.NodeTemplate.build(config.labels)
        self.pods: dict[PodKey, PodRecord] = {}
        self.pending: dict[PodKey, dict[str, Any]] = {}  # pods waiting to be reported, latest copy
        self.timers: Timers[tuple[str, Any, str]] = Timers()
        self.heartbeats: asyncio.Queue[tuple[str, SimNode]] = asyncio.Queue()
        self.pod_jobs: asyncio.Queue[tuple[str, PodKey, str]] = asyncio.Queue()
        self.stats = Stats(nodes=config.nodes)
        self.rng = random.Random()
        self._wake = asyncio.Event()
        self._started = time.monotonic()

    async def run(self) -> None:
        """Join every node and keep them all alive until cancelled."""
        log.info("simulating %d nodes (%s...) against %s", len(self.nodes), self.nodes[0].name, self.config.server)
        reader = self.nodes[0]
        reader.token = await self.http.node_token(reader.name)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._watch("pods", reader.token, self._on_pod, BOUND_PODS))
            tasks.create_task(self._watch("nodes", reader.token, self._on_node))
            tasks.create_task(self._clock())
            for _ in range(HEARTBEAT_WORKERS):
                tasks.create_task(self._work(self.heartbeats, self._heartbeat_job))
            for _ in range(POD_WORKERS):
                tasks.create_task(self._work(self.pod_jobs, self._pod_job))
            if self.config.stats_file is not None:
                tasks.create_task(self._write_stats(self.config.stats_file))
            tasks.create_task(self._join_all())

    # ---- joining -----------------------------------------------------------------------------

    async def _join_all(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        slots = asyncio.Semaphore(JOIN_CONCURRENCY)
        joins: set[asyncio.Task[None]] = set()
        for i, node in enumerate(self.nodes):
            if self.config.join_rate > 0:
                await asyncio.sleep(max(0.0, start + i / self.config.join_rate - loop.time()))
            await slots.acquire()
            task = asyncio.create_task(self._register(node))
            joins.add(task)

            def finished(done: asyncio.Task[None]) -> None:
                joins.discard(done)
                slots.release()

            task.add_done_callback(finished)
        await asyncio.gather(*joins)
        log.info("all %d nodes registered in %.1f s", len(self.nodes), time.monotonic() - self._started)

    async def _register(self, node: SimNode) -> None:
        """Create the Node (or re-post the status of an existing one), then its Lease."""
        while True:
            try:
                if not node.token:
                    node.token = await self.http.node_token(node.name)
                node.ready_since = rfc3339(utcnow())
                body = self.template.node(node.name, node.ip)
                try:
                    created = await self.http.request("POST", path("nodes"), node.token, body)
                except APIError as err:
                    if err.status != 409:
                        raise
                    url = path("nodes", name=node.name, subresource="status")
                    created = await self.http.request("PATCH", url, node.token, {"status": body["status"]}, MERGE_PATCH)
                node.uid = created["metadata"]["uid"]
                node.lease_rv = ""
                await self._renew(node)
                break
            except APIError as err:
                self.stats.request_errors += 1
                log.warning("registering node %s: %s; retrying", node.name, err)
                await asyncio.sleep(1.0)
        self._schedule(STATUS_REPORT_INTERVAL * self.rng.random(), ("status", node, ""))
        if not node.registered:
            node.registered = True
            self.stats.registered += 1

    # ---- heartbeats --------------------------------------------------------------------------

    async def _heartbeat_job(self, job: tuple[str, SimNode]) -> None:
        kind, node = job
        if kind == "lease":
            await self._renew(node)
        elif kind == "status":
            node.status_queued = False
            await self._post_status(node)
        elif kind == "register":
            await self._register(node)

    async def _renew(self, node: SimNode) -> None:
        """Renew (or create) the node's Lease, then schedule the next renewal."""
        start = time.perf_counter()
        try:
            await self._write_lease(node)
            self.stats.renewals += 1
            self.stats.renewal_latency.observe(time.perf_counter() - start)
        except APIError as err:
            self.stats.renewal_failures += 1
            log.warning("renewing the lease of %s: %s", node.name, err)
        finally:
            self._schedule(sim_nodes.jittered(self.config.heartbeat_interval, self.rng), ("lease", node, ""))

    async def _write_lease(self, node: SimNode) -> None:
        url = path("leases", sim_nodes.LEASE_NAMESPACE, node.name)
        collection = path("leases", sim_nodes.LEASE_NAMESPACE)
        for _ in range(3):
            body = sim_nodes.lease(node.name, node.uid, rfc3339_micro(utcnow()), node.lease_rv)
            try:
                if node.lease_rv:
                    answer = await self.http.request("PUT", url, node.token, body)
                else:
                    answer = await self.http.request("POST", collection, node.token, body)
                node.lease_rv = answer["metadata"]["resourceVersion"]
                return
            except APIError as err:
                if err.status == 404:
                    node.lease_rv = ""
                elif err.status == 409:  # stale resourceVersion, or it exists already: take the current one
                    try:
                        current = await self.http.request("GET", url, node.token)
                        node.lease_rv = current["metadata"]["resourceVersion"]
                    except APIError as missing:
                        if missing.status != 404:
                            raise
                        node.lease_rv = ""
                else:
                    raise
        raise APIError(409, "Conflict", f"lease {node.name} kept changing under us")

    async def _post_status(self, node: SimNode) -> None:
        now = rfc3339(utcnow())
        status = {"conditions": sim_nodes.healthy_conditions(node.ready_since or now, now)}
        url = path("nodes", name=node.name, subresource="status")
        try:
            await self.http.request("PATCH", url, node.token, {"status": status}, MERGE_PATCH)
            self.stats.status_posts += 1
        except APIError as err:
            log.warning("posting the status of %s: %s", node.name, err)
        self._schedule(sim_nodes.jittered(STATUS_REPORT_INTERVAL, self.rng), ("status", node, ""))

    def _on_node(self, kind: str, obj: dict[str, Any]) -> None:
        node = self.by_name.get(obj.get("metadata", {}).get("name", ""))
        if node is None or not node.registered:
            return
        if kind == "DELETED":
            if obj["metadata"].get("uid") == node.uid:
                log.info("node %s was deleted; registering it again", node.name)
                node.uid = ""
                self.heartbeats.put_nowait(("register", node))
        elif sim_nodes.needs_status(obj) and not node.status_queued:
            node.status_queued = True
            node.ready_since = rfc3339(utcnow())
            self.heartbeats.put_nowait(("status", node))

    # ---- pods --------------------------------------------------------------------------------

    def _on_pod(self, kind: str, pod: dict[str, Any]) -> None:
        facts = PodFacts.from_pod(pod)
        if facts.node not in self.by_name:
            return
        key = (facts.namespace, facts.name)
        record = self.pods.get(key)
        action = decide(kind, facts, record)
        if action is Action.FORGET:
            self.pods.pop(key, None)
            self.pending.pop(key, None)
        elif action is Action.ADOPT:
            self.pods[key] = PodRecord(facts.uid, facts.node, started=True)
        elif action is Action.START:
            self.pods[key] = PodRecord(facts.uid, facts.node)
            self.pending[key] = pod
            self._schedule(self.config.pod_start_delay, ("start", key, facts.uid))
        elif action is Action.REPORT:
            self.pending[key] = pod
            self.pod_jobs.put_nowait(("report", key, facts.uid))
        elif action is Action.DELETE:
            self.pending.pop(key, None)
            self.pods[key] = PodRecord(facts.uid, facts.node, deleting=True)
            self.pod_jobs.put_nowait(("delete", key, facts.uid))
        elif key in self.pending:
            self.pending[key] = pod

    async def _pod_job(self, job: tuple[str, PodKey, str]) -> None:
        kind, key, uid = job
        record = self.pods.get(key)
        if record is None or record.uid != uid:
            return
        namespace, name = key
        node = self.by_name[record.node]
        try:
            if kind == "report":
                pod = self.pending.pop(key, None)
                if pod is None or record.deleting:
                    return
                status = running_status(pod, node.ip, time.time())
                url = path("pods", namespace, name, "status")
                await self.http.request("PATCH", url, node.token, {"status": status}, MERGE_PATCH)
                record.started = True
                self.stats.pods_started += 1
            elif kind == "delete":
                await self.http.request("DELETE", path("pods", namespace, name), node.token, delete_options(uid))
                self.stats.pods_deleted += 1
        except APIError as err:
            if err.status not in (404, 409):  # gone or replaced meanwhile: nothing to do
                self.stats.request_errors += 1
                log.warning("%s of pod %s/%s: %s", kind, namespace, name, err)

    # ---- the clock, workers, watches ---------------------------------------------------------

    def _schedule(self, delay: float, item: tuple[str, Any, str]) -> None:
        if delay <= 0:
            self._fire(item)
        elif self.timers.add(asyncio.get_running_loop().time() + delay, item):
            self._wake.set()

    def _fire(self, item: tuple[str, Any, str]) -> None:
        kind, target, uid = item
        if kind == "start":
            self.pod_jobs.put_nowait(("report", target, uid))
        else:
            self.heartbeats.put_nowait((kind, target))

    async def _clock(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for item in self.timers.due(loop.time()):
                self._fire(item)
            self._wake.clear()
            next_at = self.timers.next_at()
            timeout = None if next_at is None else max(0.0, next_at - loop.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    @staticmethod
    async def _work(queue: asyncio.Queue[Any], handle: Any) -> None:
        while True:
            job = await queue.get()
            try:
                await handle(job)
            except Exception:  # a simulated node never dies of one failed request
                log.exception("simulated node job %s failed", job[0])

    async def _watch(self, resource: str, token: str, handle: Any, params: dict[str, str] | None = None) -> None:
        """List then watch ``resource`` for ever (one stream for the whole fleet), re-listing when needed."""
        async with self.http.client(token) as client:
            while True:
                try:
                    items, rv = await client.list(path(resource), params)
                    if resource == "pods":
                        self._resync_pods(items)
                    for item in items:
                        handle("ADDED", item)
                    while True:
                        async for kind, obj in client.watch(path(resource), rv, params):
                            rv = obj["metadata"]["resourceVersion"]
                            handle(kind, obj)
                except WatchExpired:
                    log.info("the %s watch expired; listing again", resource)
                except (APIError, *CONNECTION_ERRORS) as err:
                    log.info("the %s watch ended (%s); listing again", resource, err or type(err).__name__)
                    await asyncio.sleep(0.5)
                except Exception:  # the fleet's only view of the pods must never stop
                    log.exception("the %s watch failed; listing again", resource)
                    await asyncio.sleep(0.5)

    def _resync_pods(self, items: list[dict[str, Any]]) -> None:
        """Forget the pods that disappeared while the watch was down."""
        present = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in items}
        for key in [k for k in self.pods if k not in present]:
            self.pods.pop(key, None)
            self.pending.pop(key, None)

    async def _write_stats(self, target: Path) -> None:
        tmp = target.with_suffix(target.suffix + ".tmp")
        while True:
            tmp.write_bytes(orjson.dumps(self.stats.snapshot(time.time())))
            os.replace(tmp, target)
            await asyncio.sleep(1.0)


async def run(config: SimConfig) -> None:
    """Simulate until SIGINT or SIGTERM; the nodes stay registered (like agents that were stopped)."""
    http = await FleetHTTP.connect(config.server, config.join_token, config.connections)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    simulation = asyncio.create_task(Fleet(config, http).run())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([simulation, stopping], return_when=asyncio.FIRST_COMPLETED)
        if simulation.done():
            await simulation  # raises what ended it (a refused join token, ...)
    finally:
        for task in (simulation, stopping):
            task.cancel()
        await asyncio.gather(simulation, stopping, return_exceptions=True)
        await http.close()
