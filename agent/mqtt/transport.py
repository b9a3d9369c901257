"""``MQTTTransport``: the agent's ``Transport`` over an MQTT broker instead of HTTP.

One connection, kept up with back-off. Each connection carries a last will (``lost``, retained) on
the node's presence topic and announces ``online`` with a fresh session id; a clean close publishes
``goodbye`` first. The server pushes the Node and the full list of the node's pods (each with the
store's resourceVersion; older ones than the newest seen are dropped), so nothing is polled.
Writes are published under the node's ``up/`` topics; the broker's ACL ties them to this node.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import orjson

from agent.mqtt.streams import StreamRelay
from agent.transport import pod_event
from agent.views import PodSpecView
from miniplane.mqtt import protocol as p
from miniplane.timeutil import rfc3339_micro, utcnow
from miniplane.wire.client import APIError

log = logging.getLogger(__name__)

REPLY_TIMEOUT = 5.0
SEND_TIMEOUT = 10.0


class NotConnected(ConnectionError):
    """The broker is out of reach right now (an OSError, so callers retry as for HTTP)."""


class MQTTTransport:
    """Register, heartbeats, Node and pod status, Events and the pushed pods, over MQTT."""

    def __init__(
        self,
        broker: p.BrokerAddress,
        node_name: str,
        password: str,
        *,
        keepalive: int = 10,
        endpoint: str = "",
        endpoint_token: str = "",
    ) -> None:
        self.broker = broker
        self.node = node_name
        self.password = password
        self.keepalive = keepalive
        self.session = ""
        self.streams = StreamRelay(self._send_frame, endpoint, endpoint_token)
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._seq = itertools.count(time.time_ns())  # increasing across restarts too
        self._node: tuple[int, dict[str, Any] | None] | None = None  # (rv, node or None when deleted)
        self._node_changed = asyncio.Event()
        self._pods: tuple[int, list[dict[str, Any]]] = (-1, [])
        self._pods_changed = asyncio.Event()
        self._server_session = ""
        self._background: set[asyncio.Task[None]] = set()
        self._last_sent = 0.0

    # ---- connection -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (and stay connected) in the background."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())

    async def close(self, goodbye: bool = True) -> None:
        """Say goodbye (a clean stop, not a failure) and disconnect."""
        client = self._client
        if goodbye and client is not None and self._connected.is_set():
            with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                message = {"state": p.GOODBYE, "session": self.session}
                await client.publish(p.up(self.node, p.PRESENCE), p.encode(message), 1, retain=True, timeout=2)
        await self.streams.close()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            self.session = uuid.uuid4().hex
            will = aiomqtt.Will(
                p.up(self.node, p.PRESENCE), p.encode({"state": p.LOST, "session": self.session}), 1, True
            )
            client = p.client(self.broker, self.node, self.password, f"node-{self.node}", will, self.keepalive)
            try:
                async with client:
                    await client.subscribe(p.down_filter(self.node), qos=1)
                    await client.subscribe(p.SERVER_PRESENCE, qos=1)
                    self._client = client
                    await self._announce()
                    self._connected.set()
                    delay = 0.1
                    log.info("connected to the MQTT broker %s as node %s", self.broker, self.node)
                    pinger = asyncio.create_task(self._pings())
                    try:
                        async for message in client.messages:
                            self._dispatch(message)
                    finally:
                        pinger.cancel()
            except aiomqtt.MqttError as err:
                log.warning("MQTT connection to %s: %s; reconnecting in %.1fs", self.broker, err, delay)
            finally:
                self._connected.clear()
                self._client = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _announce(self) -> None:
        message = {"state": p.ONLINE, "session": self.session, "keepalive": self.keepalive}
        await self._publish_now(p.PRESENCE, message, retain=True)

    async def _pings(self) -> None:
        """Publish a ping whenever nothing else went out for half a keepalive (the server watches for silence)."""
        half = self.keepalive / 2
        while True:
            await asyncio.sleep(max(0.0, self._last_sent + half - time.monotonic()))
            if time.monotonic() - self._last_sent >= half:
                try:
                    await self._publish_now(p.PING, {"session": self.session})
                except NotConnected:
                    return  # the connection is going down; the next one starts its own pings

    async def _client_now(self, wait: float) -> aiomqtt.Client:
        if not self._connected.is_set():
            try:
                await asyncio.wait_for(self._connected.wait(), wait)
            except TimeoutError:
                raise NotConnected(f"not connected to the MQTT broker {self.broker}") from None
        if self._client is None:
            raise NotConnected(f"not connected to the MQTT broker {self.broker}")
        return self._client

    async def _publish_now(self, kind: str, message: dict[str, Any], *rest: str, retain: bool = False) -> None:
        client = self._client
        if client is None:
            raise NotConnected(f"not connected to the MQTT broker {self.broker}")
        self._last_sent = time.monotonic()
        try:
            await client.publish(p.up(self.node, kind, *rest), p.encode(message), p.QOS[kind], retain)
        except aiomqtt.MqttError as err:
            raise NotConnected(str(err)) from None

    async def _send(self, kind: str, message: dict[str, Any], *rest: str, wait: float = SEND_TIMEOUT) -> None:
        await self._client_now(wait)
        await self._publish_now(kind, message, *rest)

    async def _send_frame(self, stream: str, frame: dict[str, Any]) -> None:
        await self._send(p.STREAM, frame, stream)

    # ---- what arrives -----------------------------------------------------------------------

    def _dispatch(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        try:
            body = p.decode(message.payload) if isinstance(message.payload, bytes | bytearray) else {}
        except ValueError as err:
            log.warning("ignoring a message on %s: %s", topic, err)
            return
        if topic == p.SERVER_PRESENCE:
            self._on_server(body)
            return
        route = p.parse(topic)
        if route is None or route.node != self.node or route.direction != "down":
            return
        if route.kind == p.PODS:
            self._on_pods(body)
        elif route.kind == p.NODE:
            self._on_node(body)
        elif route.kind == p.REPLY:
            future = self._replies.pop(str(body.get("id")), None)
            if future is not None and not future.done():
                future.set_result(body)
        elif route.kind == p.STREAM and route.rest:
            self.streams.feed(route.rest[0], body)

    def _on_pods(self, body: dict[str, Any]) -> None:
        rv = body.get("rv")
        if not isinstance(rv, int) or rv < self._pods[0]:
            return  # older than what we have: out of order or a duplicate
        try:
            pods = [orjson.loads(raw) for raw in body.get("pods") or []]
        except orjson.JSONDecodeError:
            log.warning("ignoring a malformed pod list")
            return
        self._pods = (rv, pods)
        self._pods_changed.set()

    def _on_node(self, body: dict[str, Any]) -> None:
        rv = body.get("rv")
        if not isinstance(rv, int) or (self._node is not None and rv < self._node[0]):
            return
        raw = body.get("node")
        self._node = (rv, orjson.loads(raw) if raw else None)
        self._node_changed.set()

    def _on_server(self, body: dict[str, Any]) -> None:
        session = str(body.get("session", ""))
        if body.get("state") == p.ONLINE and session != self._server_session:
            self._server_session = session
            if self._client is not None:  # a new server: say hello again so it pushes our state
                self._spawn(self._announce())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- Transport --------------------------------------------------------------------------

    async def register(self, node: dict[str, Any]) -> str:
        self.start()
        delay = 0.2
        while True:
            try:
                return await self._register_once(node)
            except (NotConnected, TimeoutError) as err:
                log.warning("registering node %s over MQTT failed (%s); retrying", self.node, err or "no reply")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _register_once(self, node: dict[str, Any]) -> str:
        request = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request] = future
        try:
            await self._send(p.REGISTER, {"id": request, "node": orjson.dumps(node)})
            reply = await asyncio.wait_for(future, REPLY_TIMEOUT)
        finally:
            self._replies.pop(request, None)
        if "error" in reply:
            error = reply["error"]
            raise APIError(int(error.get("code", 500)), str(error.get("reason", "")), str(error.get("message", "")))
        if reply.get("node"):
            self._on_node({"rv": reply.get("rv", 0), "node": reply["node"]})
        return str(reply["uid"])

    async def get_node(self) -> dict[str, Any]:
        """The Node as the server last pushed it (no request goes out)."""
        if self._node is None:
            try:
                await asyncio.wait_for(self._node_changed.wait(), REPLY_TIMEOUT)
            except TimeoutError:
                raise NotConnected("the server has not sent this node yet") from None
        assert self._node is not None
        if self._node[1] is None:
            raise APIError(404, "NotFound", f'nodes "{self.node}" not found')
        return self._node[1]

    async def node_status(self, status: dict[str, Any]) -> None:
        await self._send(p.NODE_STATUS, {"seq": next(self._seq), "status": orjson.dumps(status)})

    async def renew_lease(self, node_uid: str) -> None:
        message = {"renewTime": rfc3339_micro(utcnow()), "uid": node_uid, "session": self.session}
        await self._send(p.LEASE, message, wait=0)

    async def pods(self) -> AsyncIterator[list[dict[str, Any]]]:
        self.start()
        while True:
            await self._pods_changed.wait()
            self._pods_changed.clear()
            yield list(self._pods[1])

    async def status(self, pod: PodSpecView, status: dict[str, Any], final: bool) -> None:
        message = {
            "seq": next(self._seq),
            "namespace": pod.namespace,
            "name": pod.name,
            "uid": pod.uid,
            "status": orjson.dumps(status),
            "final": final,
        }
        await self._send(p.POD_STATUS, message)

    def event(self, pod: PodSpecView, kind: str, reason: str, message: str) -> None:
        if self._client is None:
            log.debug("event %s not recorded: not connected", reason)
            return
        event = pod_event(self.node, pod, kind, reason, message)
        self._spawn(self._quiet(self._publish_now(p.EVENT, {"event": orjson.dumps(event)})))

    @staticmethod
    async def _quiet(coro: Any) -> None:
        try:
            await coro
        except NotConnected as err:
            log.debug("event not recorded: %s", err)
