"""``kubectl logs`` and ``exec`` for nodes whose agents are on MQTT: the server's half of the stream relay.

A request becomes a stream: ``open`` on the node's ``down/stream/<id>``, then the agent answers on
``up/stream/<id>`` with ``head`` (the status its endpoint gave), ``data`` frames and ``end``
(agent/mqtt/streams.py is the other half). An error head becomes the same ``Status`` as over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from miniplane.api.node_proxy import EXEC_PROTOCOL
from miniplane.mqtt import protocol as p
from miniplane.mqtt.exec_pumps import pump_both_ways
from miniplane.objects.errors import APIError

HEAD_TIMEOUT = 10.0
Publish = Callable[[str, bytes, int], Awaitable[None]]


class MQTTRelay:
    """Opens streams to agents and routes their frames back to the waiting request."""

    def __init__(self, publish: Publish, is_online: Callable[[str], bool]) -> None:
        self.publish = publish
        self.is_online = is_online
        self._streams: dict[str, tuple[str, asyncio.Queue[dict[str, Any]]]] = {}  # id → (node, inbox)

    def serves(self, node_name: str) -> bool:
        """Whether the node's agent is connected over MQTT (else HTTP reaches it)."""
        return self.is_online(node_name)

    def feed(self, node_name: str, stream: str, frame: dict[str, Any]) -> None:
        """A frame from an agent; frames for another node's stream are dropped."""
        entry = self._streams.get(stream)
        if entry is not None and entry[0] == node_name:
            entry[1].put_nowait(frame)

    async def serve_log(
        self, request: web.Request, node_name: str, path: str, params: dict[str, str]
    ) -> web.StreamResponse:
        """Stream a container's log from an MQTT agent."""
        async with self._stream(node_name, "logs", path, list(params.items())) as (stream, inbox):
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            try:
                while (frame := await inbox.get()).get("t") == "data":
                    await response.write(frame.get("d") or b"")
                await response.write_eof()
            except ConnectionResetError:
                pass
            return response

    async def serve_exec(
        self, request: web.Request, node_name: str, path: str, query: list[tuple[str, str]]
    ) -> web.StreamResponse:
        """Relay a ``v5.channel.k8s.io`` exec session between the client and an MQTT agent."""
        async with self._stream(node_name, "exec", path, query) as (stream, inbox):
            client = web.WebSocketResponse(protocols=[EXEC_PROTOCOL])
            await client.prepare(request)
            await pump_both_ways(self._exec_down(client, inbox), self._exec_up(client, node_name, stream))
            return client

    @contextlib.asynccontextmanager
    async def _stream(self, node_name: str, kind: str, path: str, query: list[tuple[str, str]]) -> Any:
        stream = uuid.uuid4().hex
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._streams[stream] = (node_name, inbox)
        try:
            await self._send(node_name, stream, {"t": "open", "kind": kind, "path": path, "query": query})
            try:
                head = await asyncio.wait_for(inbox.get(), HEAD_TIMEOUT)
            except TimeoutError:
                raise APIError(503, "ServiceUnavailable", f"the agent of node {node_name} did not answer") from None
            status = int(head.get("status", 502))
            if head.get("t") != "head" or status >= 400:
                raise _error(status, head.get("body") or b"")
            yield stream, inbox
        finally:
            self._streams.pop(stream, None)
            with contextlib.suppress(ConnectionError):
                await self._send(node_name, stream, {"t": "end"})

    async def _send(self, node_name: str, stream: str, frame: dict[str, Any]) -> None:
        try:
            await self.publish(p.down(node_name, p.STREAM, stream), p.encode(frame), p.QOS[p.STREAM])
        except ConnectionError as err:
            raise APIError(503, "ServiceUnavailable", f"cannot reach the agent of node {node_name}: {err}") from None

    @staticmethod
    async def _exec_down(client: web.WebSocketResponse, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        while (frame := await inbox.get()).get("t") == "data":
            await client.send_bytes(frame.get("d") or b"")
        await client.close()

    async def _exec_up(self, client: web.WebSocketResponse, node_name: str, stream: str) -> None:
        async for msg in client:
            if msg.type == web.WSMsgType.BINARY:
                data = msg.data
            elif msg.type == web.WSMsgType.TEXT:
                data = msg.data.encode()
            else:
                continue
            await self._send(node_name, stream, {"t": "data", "d": data})


def _error(status: int, body: bytes) -> APIError:
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    return APIError(status, str(parsed.get("reason", "BadRequest")), str(parsed.get("message", "")))
