"""``pods/log`` and ``pods/exec``: the server reaches the pod's node agent and relays.

The agent serves ``/containerLogs/NS/POD/CONTAINER`` and ``/exec/NS/POD/CONTAINER`` (WebSocket,
``v5.channel.k8s.io`` framing) on the port its Node advertises in
``status.daemonEndpoints.kubeletEndpoint.Port``, like the kubelet does. Nodes whose agents are on
MQTT are reached through the connector's ``relay`` instead (chosen per node).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from miniplane.auth.tokens import NodeTokens
from miniplane.objects import errors
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY

EXEC_PROTOCOL = "v5.channel.k8s.io"
LOG_PARAMS = ("follow", "tailLines", "timestamps", "previous", "sinceSeconds", "sinceTime", "limitBytes")


class NodeConnector(Protocol):
    """How the server reaches a node's agent."""

    async def base_url(self, node: dict[str, Any]) -> str:
        """The agent endpoint's URL for this node."""
        ...


class NodeRelay(Protocol):
    """Another way to reach some agents (MQTT: miniplane/mqtt/relay.py), chosen per node."""

    def serves(self, node_name: str) -> bool: ...

    async def serve_log(
        self, request: web.Request, node_name: str, path: str, params: dict[str, str]
    ) -> web.StreamResponse: ...

    async def serve_exec(
        self, request: web.Request, node_name: str, path: str, query: list[tuple[str, str]]
    ) -> web.StreamResponse: ...


class HTTPConnector:
    """Reach agents on the address and port their Node reports (or through ``relay`` where it serves the node)."""

    def __init__(self, tokens: NodeTokens | None) -> None:
        self.tokens = tokens
        self.relay: NodeRelay | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self._session

    def headers(self, node: dict[str, Any]) -> dict[str, str]:
        """The node's own token: the agent accepts only the server that issued its credential."""
        if self.tokens is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.issue(node['metadata']['name'])}"}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def base_url(self, node: dict[str, Any]) -> str:
        status = node.get("status", {})
        port = status.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port", 0)
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses", [])}
        host = addresses.get("InternalIP") or addresses.get("Hostname")
        if not port or not host:
            raise errors.APIError(503, "ServiceUnavailable", f"node {node['metadata']['name']} has no agent endpoint")
        return f"http://{host}:{port}"


async def _pod_and_node(service: ObjectService, namespace: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = (await service.get(BY_KEY["pods"], namespace, name)).decode()
    node_name = pod.get("spec", {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    node = (await service.get(BY_KEY["nodes"], "", node_name)).decode()
    return pod, node


def _container(pod: dict[str, Any], requested: str) -> str:
    names = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
    if requested:
        if requested not in names + [c["name"] for c in pod.get("spec", {}).get("initContainers", [])]:
            raise errors.bad_request(f"container {requested} is not valid for pod {pod['metadata']['name']}")
        return requested
    if len(names) == 1:
        return names[0]
    raise errors.bad_request(
        f"a container name must be specified for pod {pod['metadata']['name']}, choose one of: [{' '.join(names)}]"
    )


async def serve_log(
    request: web.Request, service: ObjectService, connector: HTTPConnector, namespace: str, name: str
) -> web.StreamResponse:
    """Stream a container's log from its agent."""
    pod, node = await _pod_and_node(service, namespace, name)
    container = _container(pod, request.query.get("container", ""))
    params = {k: request.query[k] for k in LOG_PARAMS if k in request.query}
    if connector.relay is not None and connector.relay.serves(_name(node)):
        path = f"/containerLogs/{namespace}/{name}/{container}"
        return await connector.relay.serve_log(request, _name(node), path, params)
    url = f"{await connector.base_url(node)}/containerLogs/{namespace}/{name}/{container}"
    try:
        upstream = await connector.session.get(url, params=params, headers=connector.headers(node))
    except aiohttp.ClientError as err:
        raise errors.APIError(
            503, "ServiceUnavailable", f"cannot reach the agent of node {_name(node)}: {err}"
        ) from None
    async with upstream:
        if upstream.status >= 400:
            body = await upstream.json(content_type=None)
            raise errors.APIError(upstream.status, body.get("reason", "BadRequest"), body.get("message", ""))
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response


async def serve_exec(
    request: web.Request, service: ObjectService, connector: HTTPConnector, namespace: str, name: str
) -> web.StreamResponse:
    """Relay a ``v5.channel.k8s.io`` exec session between kubectl and the pod's agent."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.bad_request(f"exec requires a WebSocket client ({EXEC_PROTOCOL})")
    pod, node = await _pod_and_node(service, namespace, name)
    container = _container(pod, request.query.get("container", ""))
    if not request.query.getall("command", []):
        raise errors.bad_request("you must specify at least 1 command")
    if connector.relay is not None and connector.relay.serves(_name(node)):
        path = f"/exec/{namespace}/{name}/{container}"
        return await connector.relay.serve_exec(request, _name(node), path, list(request.query.items()))
    url = f"{await connector.base_url(node)}/exec/{namespace}/{name}/{container}"
    try:
        upstream = await connector.session.ws_connect(
            url, params=list(request.query.items()), protocols=[EXEC_PROTOCOL], headers=connector.headers(node)
        )
    except (aiohttp.ClientError, aiohttp.WSServerHandshakeError) as err:
        raise errors.APIError(
            503, "ServiceUnavailable", f"cannot reach the agent of node {_name(node)}: {err}"
        ) from None
    client = web.WebSocketResponse(protocols=[EXEC_PROTOCOL])
    await client.prepare(request)
    async with upstream:
        await _relay(client, upstream)
    return client


async def _relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async def down() -> None:
        async for msg in upstream:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await client.send_bytes(msg.data)
        await client.close()

    async def up() -> None:
        async for msg in client:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await upstream.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await upstream.send_bytes(msg.data.encode())
        await upstream.close()

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    if tasks[1] in done:  # the client went away: give the agent a moment to finish
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(tasks[0]), 2)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _name(node: dict[str, Any]) -> str:
    return str(node.get("metadata", {}).get("name", ""))
