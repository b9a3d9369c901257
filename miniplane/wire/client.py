"""A small asyncio client for the miniplane (Kubernetes) REST API, used by agents and the simulator.

It never imports server internals. Errors come back as ``APIError`` with Kubernetes' status code
and reason; a watch yields ``(type, object)`` pairs and raises ``WatchExpired`` on 410 so callers
re-list, as informers do.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class APIError(Exception):
    """A non-2xx answer, with the ``Status`` fields that explain it."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class WatchExpired(APIError):
    """The watch's resourceVersion is too old (410): list again."""


def path(resource: str, namespace: str = "", name: str = "", subresource: str = "") -> str:
    """The REST path of a collection or object: ``path("pods", "default", "p", "status")``."""
    group_prefix = {
        "daemonsets": "/apis/apps/v1",
        "controllerrevisions": "/apis/apps/v1",
        "leases": "/apis/coordination.k8s.io/v1",
    }.get(resource, "/api/v1")
    out = group_prefix
    if namespace:
        out += f"/namespaces/{quote(namespace)}"
    out += f"/{resource}"
    if name:
        out += f"/{quote(name)}"
    if subresource:
        out += f"/{subresource}"
    return out


class Client:
    """One HTTP connection pool to the server, with the caller's credentials."""

    def __init__(
        self,
        server: str,
        token: str = "",
        ca_file: str = "",
        timeout: float = 30.0,
        client_cert: tuple[str, str] | None = None,
    ) -> None:
        """``token`` is a bearer token; ``client_cert`` a (certificate, key) file pair; ``ca_file`` the CA."""
        headers = {"Accept": JSON, "User-Agent": "miniplane-agent"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        ssl_ctx: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        if client_cert and isinstance(ssl_ctx, ssl.SSLContext):
            ssl_ctx.load_cert_chain(*client_cert)
        self._session = aiohttp.ClientSession(
            server.rstrip("/"),
            headers=headers,
            connector=aiohttp.TCPConnector(limit=64, ssl=ssl_ctx),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout),
        )
        self._timeout = timeout

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        content_type: str = JSON,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request; returns the decoded JSON answer or raises APIError."""
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._session.request(
            method, url, data=data, headers=headers, params=params, timeout=aiohttp.ClientTimeout(total=self._timeout)
        ) as resp:
            raw = await resp.read()
            if resp.status >= 400:
                raise api_error(resp.status, raw)
            return orjson.loads(raw) if raw else None

    async def get(self, url: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", url)
        return result

    async def list(self, url: str, params: Mapping[str, str] | None = None) -> tuple[list[dict[str, Any]], str]:
        """Items and the list's resourceVersion."""
        result = await self.request("GET", url, params=params)
        return result.get("items") or [], result["metadata"].get("resourceVersion", "")

    async def create(self, url: str, obj: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", url, obj)
        return result

    async def update(self, url: str, obj: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("PUT", url, obj)
        return result

    async def patch(self, url: str, patch: Any, content_type: str = MERGE_PATCH) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("PATCH", url, patch, content_type)
        return result

    async def delete(self, url: str, options: dict[str, Any] | None = None) -> Any:
        return await self.request("DELETE", url, options or {})

    async def watch(
        self, url: str, resource_version: str, params: Mapping[str, str] | None = None, server_timeout: int = 300
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Events after ``resource_version``; ends when the server closes the stream."""
        query = {
            **(params or {}),
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(server_timeout),
        }
        async with self._session.get(url, params=query) as resp:
            if resp.status >= 400:
                raise api_error(resp.status, await resp.read())
            async for line in resp.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event["type"] == "ERROR":
                    status = event["object"]
                    raise api_error(int(status.get("code", 500)), orjson.dumps(status))
                yield event["type"], event["object"]

    async def stream(self, url: str, params: Mapping[str, str] | None = None) -> AsyncIterator[bytes]:
        """The raw body of a streamed answer (pod logs), chunk by chunk."""
        async with self._session.get(url, params=params) as resp:
            if resp.status >= 400:
                raise api_error(resp.status, await resp.read())
            async for chunk in resp.content.iter_any():
                yield chunk


def api_error(status: int, raw: bytes) -> APIError:
    """The ``APIError`` (``WatchExpired`` for 410) of a non-2xx answer's ``Status`` body."""
    try:
        body = orjson.loads(raw)
        reason, message = str(body.get("reason", "")), str(body.get("message", ""))
    except (orjson.JSONDecodeError, AttributeError):
        reason, message = "", raw.decode(errors="replace")[:500]
    cls = WatchExpired if status == 410 else APIError
    return cls(status, reason, message)
