"""The agent's own HTTP endpoint, which the server relays ``kubectl logs`` and ``kubectl exec`` to.

- ``GET /containerLogs/NS/POD/CONTAINER?follow&tailLines&timestamps&previous&sinceSeconds&sinceTime&limitBytes``
- ``GET /exec/NS/POD/CONTAINER?command=…&stdin&stdout&stderr&tty`` as a WebSocket speaking
  ``v5.channel.k8s.io``: binary frames whose first byte is the channel (0 stdin, 1 stdout, 2 stderr,
  3 status, 4 resize, 255 close).

Only the server may call it: requests carry the cluster's node token as a bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hmac
import os
import struct
import termios
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from agent.logs import LogOptions, follow_log, read_log
from agent.runtime.base import Runtime
from agent.runtime.host import helper_command, helper_env
from agent.runtime.process import ProcessRuntime

EXEC_PROTOCOL = "v5.channel.k8s.io"
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

PodLookup = Callable[[str, str], str | None]  # (namespace, name) → pod uid


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }
    return web.json_response(body, status=code)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


class Endpoint:
    """Serves logs and exec for the pods this agent runs."""

    def __init__(self, runtime: Runtime, lookup: PodLookup, token: str) -> None:
        self.runtime = runtime
        self.lookup = lookup
        self.token = token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.logs)
        app.router.add_get("/exec/{namespace}/{pod}/{container}", self.exec)
        app.router.add_get("/healthz", _healthz)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.path != "/healthz":
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if not self.token or not hmac.compare_digest(given.encode(), self.token.encode()):
                return _status(401, "Unauthorized", "Unauthorized")
        result: web.StreamResponse = await handler(request)
        return result

    def _running_id(self, uid: str, container: str) -> str | None:
        for obs in self.runtime.observe():
            if obs.pod_uid == uid and obs.name == container and obs.running:
                return obs.container_id
        return None

    async def logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        uid = self.lookup(ns, pod)
        if uid is None:
            return _status(404, "NotFound", f'pod "{pod}" is not running on this node')
        q = request.query
        try:
            options = LogOptions(
                tail_lines=int(q["tailLines"]) if "tailLines" in q else None,
                since_seconds=float(q["sinceSeconds"]) if "sinceSeconds" in q else None,
                since_time=q.get("sinceTime"),
                timestamps=q.get("timestamps") == "true",
                limit_bytes=int(q["limitBytes"]) if "limitBytes" in q else None,
            )
        except ValueError as err:
            return _status(400, "BadRequest", f"invalid log option: {err}")
        previous = q.get("previous") == "true"
        path = self.runtime.log_path(uid, container, previous)
        if path is None or not path.exists():
            if previous:
                return _status(
                    400, "BadRequest", f'previous terminated container "{container}" in pod "{pod}" not found'
                )
            return _status(
                400, "BadRequest", f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating'
            )
        if q.get("follow") != "true":
            body = await asyncio.to_thread(read_log, path, options, time.time())
            return web.Response(body=body, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        instance = None if previous else self._running_id(uid, container)
        finished = (lambda: True) if instance is None else (lambda: self._running_id(uid, container) != instance)
        with contextlib.suppress(ConnectionResetError):
            async for chunk in follow_log(path, options, time.time(), finished=finished):
                await response.write(chunk)
            await response.write_eof()
        return response

    async def exec(self, request: web.Request) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        argv = request.query.getall("command", [])
        uid = self.lookup(ns, pod)
        container_id = self._running_id(uid, container) if uid else None
        ws = web.WebSocketResponse(protocols=[EXEC_PROTOCOL])
        await ws.prepare(request)
        if container_id is None or not argv or not isinstance(self.runtime, ProcessRuntime):
            message = f'container "{container}" in pod "{pod}" is not running' if argv else "no command given"
            await ws.send_bytes(
                bytes([STATUS]) + orjson.dumps({"metadata": {}, "status": "Failure", "message": message})
            )
            await ws.close()
            return ws
        directory = str(self.runtime.layout.instance_dir(container_id))
        session = _ExecSession(helper_command("agent.runtime.shim", "exec", directory, *argv), request.query)
        await session.run(ws)
        return ws


class _ExecSession:
    """One ``kubectl exec``: a process in the container, bridged to the WebSocket channels."""

    def __init__(self, argv: list[str], query: Any) -> None:
        self.argv = argv
        self.tty = query.get("tty") == "true"
        self.stdin = query.get("stdin") == "true"

    async def run(self, ws: web.WebSocketResponse) -> None:
        master = slave = -1
        if self.tty:
            master, slave = os.openpty()
            stdio: dict[str, Any] = {"stdin": slave, "stdout": slave, "stderr": slave}
        else:
            stdio = {
                "stdin": asyncio.subprocess.PIPE if self.stdin else asyncio.subprocess.DEVNULL,
                "stdout": asyncio.subprocess.PIPE,
                "stderr": asyncio.subprocess.PIPE,
            }
        process = await asyncio.create_subprocess_exec(*self.argv, env=helper_env(), start_new_session=True, **stdio)
        if slave >= 0:
            os.close(slave)
        readers = (
            [asyncio.create_task(self._pump_pty(master, ws))]
            if self.tty
            else [
                asyncio.create_task(self._pump(process.stdout, STDOUT, ws)),
                asyncio.create_task(self._pump(process.stderr, STDERR, ws)),
            ]
        )
        writer = asyncio.create_task(self._from_client(ws, process, master))
        code = await process.wait()
        await asyncio.gather(*readers, return_exceptions=True)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        if master >= 0:
            os.close(master)
        if code == 0:
            status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        else:
            status = {
                "metadata": {},
                "status": "Failure",
                "reason": "NonZeroExitCode",
                "message": f"command terminated with non-zero exit code: error executing command, exit status {code}",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
            }
        with contextlib.suppress(ConnectionResetError):
            await ws.send_bytes(bytes([STATUS]) + orjson.dumps(status))
            await ws.close()

    @staticmethod
    async def _pump(stream: asyncio.StreamReader | None, channel: int, ws: web.WebSocketResponse) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            await ws.send_bytes(bytes([channel]) + chunk)

    @staticmethod
    async def _pump_pty(master: int, ws: web.WebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                chunk = await loop.run_in_executor(None, os.read, master, 65536)
            except OSError:  # EIO once the process side is closed
                return
            if not chunk:
                return
            await ws.send_bytes(bytes([STDOUT]) + chunk)

    async def _from_client(self, ws: web.WebSocketResponse, process: asyncio.subprocess.Process, master: int) -> None:
        async for msg in ws:
            if msg.type.name != "BINARY" or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == STDIN:
                if master >= 0:
                    os.write(master, payload)
                elif process.stdin is not None:
                    process.stdin.write(payload)
                    with contextlib.suppress(ConnectionResetError):
                        await process.stdin.drain()
            elif channel == RESIZE and master >= 0:
                size = orjson.loads(payload)
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size["Height"], size["Width"], 0, 0))
            elif channel == CLOSE and payload[:1] == bytes([STDIN]) and process.stdin is not None:
                process.stdin.close()
