"""The server's MQTT bridge: agents' messages in, each node's desired state out.

In: one subscription to every node's ``up/`` topics. Presence decides which nodes are MQTT nodes
(``online``), marks a node Unknown when its will (``lost``) arrives live, and notes a clean
``goodbye``; a watchdog also declares lost a connection silent for 1.5 x its keepalive (mosquitto's
own check is coarse). Lease renewals only update a map (newest renewTime per node) that a writer
drains into Lease objects every ``LEASE_FLUSH``, so any number of heartbeats in between costs one
write. Other writes go through ``NodeWrites``: each node's in arrival order, nodes concurrently.

Out: the bridge follows the store's nodes and pods (list, then watch) and, for every online MQTT
node whose Node or pods changed, publishes the Node and the full list of its pods, each with the
resourceVersion it reflects. Bursts coalesce: a node is marked dirty and the pusher sends its
newest state once. Nothing it pushes is retained: a node gets its state when it says ``online``,
so a retained message can never bring back a deleted pod.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiomqtt
import orjson

from miniplane.controllers.feed import Feed
from miniplane.mqtt import lastwill
from miniplane.mqtt import protocol as p
from miniplane.mqtt.relay import MQTTRelay
from miniplane.mqtt.writes import NodeWrites
from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.store import errors as store_errors
from miniplane.store.base import StoredObject, WatchEvent

log = logging.getLogger(__name__)

WATCHDOG_PERIOD = 0.1  # seconds between checks for silent connections
LEASE_FLUSH = 0.5  # seconds a Lease renewal may wait to be written with others (leases last 40 s)
LEASE_CONCURRENCY = 64
PUSH_CONCURRENCY = 256


@dataclass
class BridgeStats:
    """Counters for benchmarks and logs."""

    heartbeats: int = 0
    lease_writes: int = 0
    wills: int = 0
    silent: int = 0  # connections the watchdog declared lost
    pushes: int = 0


class Bridge:
    """Connects the server to the broker; see the module docstring."""

    def __init__(
        self,
        service: ObjectService,
        broker: p.BrokerAddress,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 10,
    ) -> None:
        self.service = service
        self.broker = broker
        self.username = username or broker.username
        self.password = password or broker.password
        self.keepalive = keepalive
        self.writes = NodeWrites(service)
        self.relay = MQTTRelay(self.publish, lambda node: node in self.online)
        self.stats = BridgeStats()
        self.online: dict[str, str] = {}  # node → session of its live connection
        self._sessions: dict[str, str] = {}  # node → its newest announced session (kept after a loss)
        self._keepalive: dict[str, float] = {}  # node → its connection's keepalive, seconds
        self._seen: dict[str, float] = {}  # node → when its last message arrived (monotonic)
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._nodes: dict[str, StoredObject] = {}
        self._pods: dict[str, dict[str, StoredObject]] = {}  # node → "namespace/name" → pod
        self._rv = 0
        self._dirty: set[str] = set()
        self._push = asyncio.Event()
        self._leases: dict[str, tuple[str, str]] = {}  # node → (renewTime, node uid)
        self._lease_due = asyncio.Event()
        self._queues: dict[str, collections.deque[tuple[str, dict[str, Any]]]] = {}  # node → its writes, in order
        self._writers: dict[str, asyncio.Task[None]] = {}  # node → the task draining its queue

    async def run(self) -> None:
        """Run until cancelled: the connection (kept up), the store feeds, the pusher and the writers."""
        nodes = Feed(self.service.store, "nodes", self._list_nodes, self._on_node)
        pods = Feed(self.service.store, "pods", self._list_pods, self._on_pod)
        await nodes.prime()
        await pods.prime()
        try:
            async with asyncio.TaskGroup() as tasks:
                for job in (nodes.run(), pods.run(), self._connection(), self._pusher(), self._lease_writer()):
                    tasks.create_task(job)
                tasks.create_task(self._watchdog())
        finally:
            writers = list(self._writers.values())
            for writer in writers:
                writer.cancel()
            await asyncio.gather(*writers, return_exceptions=True)

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        """Publish now; raises ConnectionError while the broker is out of reach."""
        client = self._client
        if client is None:
            raise ConnectionError(f"not connected to the MQTT broker {self.broker}")
        try:
            await client.publish(topic, payload, qos, retain)
        except aiomqtt.MqttError as err:
            raise ConnectionError(str(err)) from None

    # ---- the connection -------------------------------------------------------------------------

    async def _connection(self) -> None:
        delay = 0.1
        while True:
            session = uuid.uuid4().hex
            will = aiomqtt.Will(p.SERVER_PRESENCE, p.encode({"state": p.OFFLINE, "session": session}), 1, True)
            identifier = f"{p.SERVER_USER}-{session[:8]}"
            client = p.client(self.broker, self.username, self.password, identifier, will, self.keepalive)
            try:
                async with client:
                    self._client = client
                    await client.subscribe(p.UP_FILTER, qos=1)
                    await client.publish(p.SERVER_PRESENCE, p.encode({"state": p.ONLINE, "session": session}), 1, True)
                    self.connected.set()
                    delay = 0.1
                    log.info("MQTT bridge connected to %s", self.broker)
                    async for message in client.messages:
                        self._receive(message)
            except aiomqtt.MqttError as err:
                log.warning("MQTT bridge: %s; reconnecting to %s in %.1fs", err, self.broker, delay)
            finally:
                self.connected.clear()
                self._client = None
                self.online.clear()  # every agent says online again when it sees the server back
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _receive(self, message: aiomqtt.Message) -> None:
        route = p.parse(message.topic.value)
        if route is None or route.direction != "up":
            return
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        if not payload:
            return  # a cleared retained message
        try:
            body = p.decode(payload)
        except ValueError as err:
            log.warning("node %s sent a bad %s message: %s", route.node, route.kind, err)
            return
        self._seen[route.node] = time.monotonic()
        if route.kind in (p.LEASE, p.PING):
            self._alive(route.node, body)
            if route.kind == p.LEASE:
                self._heartbeat(route.node, body)
        elif route.kind == p.STREAM and route.rest:
            self.relay.feed(route.node, route.rest[0], body)
        elif route.kind == p.PRESENCE:
            self._presence(route.node, body, bool(message.retain))
        else:
            self._enqueue(route.node, route.kind, body)

    def _heartbeat(self, node: str, body: dict[str, Any]) -> None:
        renew = body.get("renewTime")
        if not isinstance(renew, str):
            return
        self.stats.heartbeats += 1
        previous = self._leases.get(node)
        if previous is None or renew > previous[0]:
            self._leases[node] = (renew, str(body.get("uid", "")))
            self._lease_due.set()

    def _alive(self, node: str, body: dict[str, Any]) -> None:
        """A message on a connection the watchdog gave up on (the agent was only slow): online again."""
        session = body.get("session")
        if node not in self.online and session and session == self._sessions.get(node):
            self.online[node] = session
            self._mark(node)

    def _presence(self, node: str, body: dict[str, Any], retained: bool) -> None:
        state, session = body.get("state"), str(body.get("session", ""))
        if state == p.ONLINE:
            self.online[node] = self._sessions[node] = session
            keepalive = body.get("keepalive")
            if isinstance(keepalive, int | float) and keepalive > 0:
                self._keepalive[node] = float(keepalive)
            self._mark(node)
        elif state in (p.LOST, p.GOODBYE) and self.online.get(node, session) == session:
            self.online.pop(node, None)
            if state == p.GOODBYE:
                self._enqueue(node, p.GOODBYE, body)
            elif not retained:  # a will kept from before this server started is the grace path's business
                self.stats.wills += 1
                self._enqueue(node, p.LOST, {"at": time.monotonic()})

    async def _watchdog(self) -> None:
        """A connection silent for 1.5 x its keepalive is lost, whenever the broker gets round to its will."""
        while True:
            await asyncio.sleep(WATCHDOG_PERIOD)
            now = time.monotonic()
            for node in [n for n in self.online if now - self._seen.get(n, now) > 1.5 * self._keepalive.get(n, 1e9)]:
                self.online.pop(node, None)
                self.stats.silent += 1
                self._enqueue(node, p.LOST, {"at": now, "silent": True})

    # ---- writes -------------------------------------------------------------------------------

    def _enqueue(self, node: str, kind: str, body: dict[str, Any]) -> None:
        """Queue a write; each node's writes apply in arrival order, different nodes' concurrently."""
        self._queues.setdefault(node, collections.deque()).append((kind, body))
        if node not in self._writers:
            self._writers[node] = asyncio.create_task(self._drain(node))

    async def _drain(self, node: str) -> None:
        queue = self._queues[node]
        try:
            while queue:
                kind, body = queue.popleft()
                try:
                    await self._apply(node, kind, body)
                except (APIError, store_errors.StoreError) as err:
                    log.info("node %s: %s not applied: %s", node, kind, err)
                except (KeyError, TypeError, ValueError) as err:
                    log.warning("node %s sent a malformed %s message: %r", node, kind, err)
        finally:
            del self._writers[node]
            if not queue:
                del self._queues[node]

    async def _apply(self, node: str, kind: str, body: dict[str, Any]) -> None:
        if kind == p.REGISTER:
            await self._register(node, body)
        elif kind == p.NODE_STATUS:
            await self.writes.node_status(node, int(body["seq"]), orjson.loads(body["status"]))
        elif kind == p.POD_STATUS:
            await self.writes.pod_status(node, body)
        elif kind == p.EVENT:
            await self.writes.event(node, orjson.loads(body["event"]))
        elif kind == p.LOST:
            message = lastwill.SILENT if body.get("silent") else lastwill.MESSAGE
            if await self.writes.connection_lost(node, message=message):
                log.info(
                    "node %s: connection lost; marked Unknown %.1f ms after the loss was noticed",
                    node,
                    (time.monotonic() - body["at"]) * 1000,
                )
        elif kind == p.GOODBYE:
            await self.writes.goodbye(node)

    async def _register(self, node: str, body: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": body.get("id")}
        try:
            stored = await self.writes.register(node, orjson.loads(body["node"]))
            reply.update(uid=stored.decode()["metadata"]["uid"], node=stored.raw, rv=stored.rv)
        except APIError as err:
            reply["error"] = {"code": err.code, "reason": err.reason, "message": str(err)}
        with contextlib.suppress(ConnectionError):
            await self.publish(p.down(node, p.REPLY), p.encode(reply), p.QOS[p.REPLY])

    async def _lease_writer(self) -> None:
        while True:
            await self._lease_due.wait()
            await asyncio.sleep(LEASE_FLUSH)  # let renewals pile up: one write per node per flush
            self._lease_due.clear()
            batch, self._leases = list(self._leases.items()), {}
            for start in range(0, len(batch), LEASE_CONCURRENCY):  # concurrent writes share the log's fsyncs
                await asyncio.gather(
                    *(self._renew(node, *lease) for node, lease in batch[start : start + LEASE_CONCURRENCY])
                )

    async def _renew(self, node: str, renew: str, uid: str) -> None:
        try:
            await self.writes.renew_lease(node, renew, uid)
            self.stats.lease_writes += 1
        except (APIError, store_errors.StoreError) as err:
            log.info("lease of %s not renewed: %s", node, err)

    # ---- desired state out --------------------------------------------------------------------

    def _list_nodes(self, items: list[StoredObject]) -> None:
        self._nodes = {obj.name: obj for obj in items}
        for obj in items:
            self._rv = max(self._rv, obj.rv)
        self._mark(*self.online)

    def _on_node(self, event: WatchEvent) -> None:
        self._rv = max(self._rv, event.obj.rv)
        if event.type == "DELETED":
            self._nodes.pop(event.obj.name, None)
        else:
            self._nodes[event.obj.name] = event.obj
        self._mark(event.obj.name)

    def _list_pods(self, items: list[StoredObject]) -> None:
        self._pods = {}
        for obj in items:
            self._rv = max(self._rv, obj.rv)
            if node := obj.fields.get("spec.nodeName"):
                self._pods.setdefault(node, {})[_key(obj)] = obj
        self._mark(*self.online)

    def _on_pod(self, event: WatchEvent) -> None:
        obj = event.obj
        self._rv = max(self._rv, obj.rv)
        key = _key(obj)
        before = event.prev.fields.get("spec.nodeName") if event.prev is not None else None
        after = obj.fields.get("spec.nodeName")
        if before and before != after:
            self._pods.get(before, {}).pop(key, None)
            self._mark(before)
        if after:
            if event.type == "DELETED":
                self._pods.get(after, {}).pop(key, None)
            else:
                self._pods.setdefault(after, {})[key] = obj
            self._mark(after)

    def _mark(self, *nodes: str) -> None:
        self._dirty.update(nodes)
        self._push.set()

    async def _pusher(self) -> None:
        while True:
            await self._push.wait()
            self._push.clear()
            await self.connected.wait()
            dirty, self._dirty = self._dirty, set()
            online = [node for node in dirty if node in self.online]
            for start in range(0, len(online), PUSH_CONCURRENCY):  # QoS 1 round trips overlap
                chunk = online[start : start + PUSH_CONCURRENCY]
                results = await asyncio.gather(*(self._push_node(node) for node in chunk), return_exceptions=True)
                for node, result in zip(chunk, results, strict=True):
                    if isinstance(result, ConnectionError):
                        self._dirty.add(node)  # pushed again when the broker is back
                    elif isinstance(result, BaseException):
                        log.error("pushing to node %s failed", node, exc_info=result)

    async def _push_node(self, node: str) -> None:
        stored = self._nodes.get(node)
        raw = stored.raw if stored is not None else None
        pods = [obj.raw for obj in self._pods.get(node, {}).values()]
        await asyncio.gather(
            self.publish(p.down(node, p.NODE), p.encode({"rv": self._rv, "node": raw}), p.QOS[p.NODE]),
            self.publish(p.down(node, p.PODS), p.encode({"rv": self._rv, "pods": pods}), p.QOS[p.PODS]),
        )
        self.stats.pushes += 1


def _key(obj: StoredObject) -> str:
    return f"{obj.namespace}/{obj.name}"
