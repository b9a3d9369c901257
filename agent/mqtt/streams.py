"""``kubectl logs`` and ``exec`` for an MQTT agent: frames from the server, relayed to the agent's own endpoint.

The server opens a stream with ``{"t": "open", "kind": "logs"|"exec", "path", "query"}`` on
``down/stream/<id>``. The relay makes the same request to the local endpoint (``agent.endpoint``, so
logs and exec behave exactly as over HTTP) and sends back ``{"t": "head", "status", "body"}``, then
``{"t": "data", "d": bytes}`` frames and ``{"t": "end"}`` on ``up/stream/<id>``. For exec, the
server's ``data`` frames are the client's WebSocket frames (channel byte first); its ``end`` closes
the stream either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from agent.endpoint import EXEC_PROTOCOL
from miniplane.mqtt.exec_pumps import pump_both_ways

log = logging.getLogger(__name__)

SendFrame = Callable[[str, dict[str, Any]], Awaitable[None]]


class StreamRelay:
    """Open streams, each a task relaying between MQTT frames and the local endpoint."""

    def __init__(self, send: SendFrame, endpoint: str, token: str) -> None:
        self.send = send
        self.endpoint = endpoint
        self.token = token
        self._inbox: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    def feed(self, stream: str, frame: dict[str, Any]) -> None:
        """A frame from the server."""
        if frame.get("t") == "open" and stream not in self._tasks:
            self._inbox[stream] = asyncio.Queue()
            task = asyncio.create_task(self._serve(stream, frame))
            self._tasks[stream] = task
            task.add_done_callback(lambda _: self._forget(stream))
        elif stream in self._inbox:
            self._inbox[stream].put_nowait(frame)

    def _forget(self, stream: str) -> None:
        self._tasks.pop(stream, None)
        self._inbox.pop(stream, None)

    async def close(self) -> None:
        """End every stream."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.token}"}, timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    async def _serve(self, stream: str, frame: dict[str, Any]) -> None:
        try:
            if not self.endpoint:
                await self.send(stream, _refusal(503, "this agent has no logs/exec endpoint"))
            elif frame.get("kind") == "logs":
                await self._logs(stream, frame)
            elif frame.get("kind") == "exec":
                await self._exec(stream, frame)
            else:
                await self.send(stream, _refusal(400, f"unknown stream kind {frame.get('kind')!r}"))
        except (ConnectionError, aiohttp.ClientError) as err:
            log.info("stream %s ended: %s", stream, err)

    def _url(self, frame: dict[str, Any]) -> str:
        return self.endpoint + str(frame.get("path", ""))

    @staticmethod
    def _query(frame: dict[str, Any]) -> list[tuple[str, str]]:
        return [(str(k), str(v)) for k, v in frame.get("query") or []]

    async def _logs(self, stream: str, frame: dict[str, Any]) -> None:
        async with self.session.get(self._url(frame), params=self._query(frame)) as response:
            if response.status >= 400:
                await self.send(stream, {"t": "head", "status": response.status, "body": await response.read()})
                return
            await self.send(stream, {"t": "head", "status": response.status})
            reader = asyncio.create_task(self._copy_body(stream, response))
            ended = asyncio.create_task(self._until_end(stream))
            await asyncio.wait([reader, ended], return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, ended):
                task.cancel()
            await asyncio.gather(reader, ended, return_exceptions=True)

    async def _copy_body(self, stream: str, response: aiohttp.ClientResponse) -> None:
        with contextlib.suppress(aiohttp.ClientPayloadError):
            async for chunk in response.content.iter_any():
                await self.send(stream, {"t": "data", "d": chunk})
        await self.send(stream, {"t": "end"})

    async def _until_end(self, stream: str) -> None:
        inbox = self._inbox[stream]
        while (await inbox.get()).get("t") != "end":
            pass

    async def _exec(self, stream: str, frame: dict[str, Any]) -> None:
        try:
            ws = await self.session.ws_connect(self._url(frame), params=self._query(frame), protocols=[EXEC_PROTOCOL])
        except aiohttp.WSServerHandshakeError as err:
            await self.send(stream, _refusal(err.status or 502, err.message))
            return
        async with ws:
            await self.send(stream, {"t": "head", "status": 101})
            await pump_both_ways(self._exec_down(stream, ws), self._exec_up(stream, ws))

    async def _exec_down(self, stream: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await self.send(stream, {"t": "data", "d": msg.data})
        await self.send(stream, {"t": "end"})

    async def _exec_up(self, stream: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        inbox = self._inbox[stream]
        while True:
            frame = await inbox.get()
            if frame.get("t") == "end":
                await ws.close()
                return
            if frame.get("t") == "data" and isinstance(frame.get("d"), bytes):
                await ws.send_bytes(frame["d"])


def _refusal(code: int, message: str) -> dict[str, Any]:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}
    return {"t": "head", "status": code, "body": orjson.dumps(status)}
