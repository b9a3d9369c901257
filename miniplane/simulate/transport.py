"""One connection pool for the whole simulated fleet, each request carrying its own node's token.

A real agent holds its own connections; N simulated nodes share ``connections`` keep-alive
connections (aiohttp's pool), so 10,000 nodes need neither 10,000 sockets nor 10,000 TLS
handshakes, yet every write goes out with the credential of the node that makes it and passes the
server's NodeRestriction like an agent's. Joining is the agent's (``miniplane.wire.join``): the CA
is fetched once from ``/cacerts`` and checked against the join token's hash, then the join token
is exchanged for each node's own bearer token.

When the server cannot be reached (restarting), requests wait instead of failing one by one: the
first connection error marks the server down, one prober polls ``/readyz``, and the waiting
requests go out again once it answers.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from miniplane.wire.client import JSON, Client, api_error
from miniplane.wire.join import JOIN_PATH, trusted_ca

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)  # the server went away mid-request
PROBE_INTERVAL = 0.1
REQUEST_TIMEOUT = 30.0


class FleetHTTP:
    """Requests on behalf of many nodes over one pool."""

    def __init__(self, server: str, join_token: str, ca_pem: bytes, connections: int, timeout: float) -> None:
        self.server = server.rstrip("/")
        self.join_token = join_token
        self._ca_dir = tempfile.TemporaryDirectory(prefix="miniplane-simulate-")
        self.ca_file = ""
        context: ssl.SSLContext | bool = True
        if ca_pem:
            self.ca_file = str(Path(self._ca_dir.name) / "ca.crt")
            Path(self.ca_file).write_bytes(ca_pem)
            context = ssl.create_default_context(cadata=ca_pem.decode())
        self._session = aiohttp.ClientSession(
            self.server,
            headers={"Accept": JSON, "User-Agent": "miniplane-simulate"},
            connector=aiohttp.TCPConnector(limit=connections, ssl=context),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self._up = asyncio.Event()
        self._up.set()
        self._prober: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, server: str, join_token: str, connections: int = 64) -> FleetHTTP:
        """Trust the server as the join token says (its CA hash), as an agent joining does."""
        return cls(server, join_token, await trusted_ca(server, join_token), connections, REQUEST_TIMEOUT)

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
        await self._session.close()
        self._ca_dir.cleanup()

    def client(self, token: str) -> Client:
        """A ``miniplane.wire.client.Client`` of its own for ``token`` (the shared watches use one)."""
        return Client(self.server, token=token, ca_file=self.ca_file)

    async def node_token(self, node: str) -> str:
        """The bearer token of ``node``, exchanged for the join token (the same name gets the same token)."""
        answer = await self.request("POST", JOIN_PATH, self.join_token, {"nodeName": node})
        return str(answer["token"])

    async def request(
        self,
        method: str,
        url: str,
        token: str,
        body: Any = None,
        content_type: str = JSON,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request as ``token``; waits out an unreachable server; APIError for a non-2xx answer."""
        data = None if body is None else orjson.dumps(body)
        headers = {"Authorization": f"Bearer {token}"}
        if data is not None:
            headers["Content-Type"] = content_type
        while True:
            await self._up.wait()
            try:
                async with self._session.request(method, url, data=data, headers=headers, params=params) as resp:
                    raw = await resp.read()
            except CONNECTION_ERRORS as err:
                self._server_down(err)
                continue
            if resp.status >= 400:
                raise api_error(resp.status, raw)
            return orjson.loads(raw) if raw else None

    def _server_down(self, err: BaseException) -> None:
        if self._up.is_set():
            log.warning("server unreachable (%s); waiting for it", err or type(err).__name__)
            self._up.clear()
        if self._prober is None or self._prober.done():
            self._prober = asyncio.create_task(self._probe())

    async def _probe(self) -> None:
        while True:
            try:
                async with self._session.get("/readyz") as resp:
                    if resp.status == 200:
                        log.info("server reachable again")
                        self._up.set()
                        return
            except CONNECTION_ERRORS:
                pass
            await asyncio.sleep(PROBE_INTERVAL)
