"""How an agent talks to the server: the ``Transport`` seam and its HTTP implementation.

The sync logic only sees ``Transport``: register the Node, report Node status, renew the Lease,
receive the pods bound to this node, report pod status and Events. An MQTT implementation can
slot in beside ``HTTPTransport`` without touching ``SyncLoop``. Every call survives the server
going away: failures are retried with back-off, never raised into the agent's main loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any, Protocol

import aiohttp

from agent.views import PodSpecView
from miniplane.timeutil import rfc3339, rfc3339_micro, utcnow
from miniplane.wire.client import MERGE_PATCH, APIError, Client, WatchExpired, path

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
_CONNECTION_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


class Transport(Protocol):
    """The agent ↔ server channel (also the ``Reporter`` the sync loop writes to)."""

    async def register(self, node: dict[str, Any]) -> str:
        """Create or refresh this agent's Node; returns its uid."""
        ...

    async def get_node(self) -> dict[str, Any]: ...

    async def node_status(self, status: dict[str, Any]) -> None: ...

    async def renew_lease(self, node_uid: str) -> None: ...

    def pods(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Every change of the set of pods bound to this node, as the full list."""
        ...

    async def status(self, pod: PodSpecView, status: dict[str, Any], final: bool) -> None: ...

    def event(self, pod: PodSpecView, kind: str, reason: str, message: str) -> None: ...


def pod_event(node: str, pod: PodSpecView, kind: str, reason: str, message: str) -> dict[str, Any]:
    """An Event about ``pod`` as the kubelet of ``node`` records it."""
    now = rfc3339(utcnow())
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{pod.name}.", "namespace": pod.namespace},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod.name,
            "namespace": pod.namespace,
            "uid": pod.uid,
        },
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": "kubelet", "host": node},
        "reportingComponent": "kubelet",
        "reportingInstance": node,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


async def retrying(what: str, call: Any, *args: Any, attempts: int = 0) -> Any:
    """Call until it succeeds (or ``attempts`` run out), backing off from 0.2 s to 5 s."""
    delay, tried = 0.2, 0
    while True:
        try:
            return await call(*args)
        except _CONNECTION_ERRORS as err:
            tried += 1
            if attempts and tried >= attempts:
                raise
            log.warning("%s failed (%s); retrying in %.1fs", what, err or type(err).__name__, delay)
        await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
        delay = min(delay * 2, 5.0)


class HTTPTransport:
    """Plain Kubernetes REST over HTTP(S), as a kubelet would use it."""

    def __init__(self, client: Client, node_name: str) -> None:
        self.client = client
        self.node = node_name
        self._background: set[asyncio.Task[None]] = set()

    async def register(self, node: dict[str, Any]) -> str:
        async def attempt() -> str:
            try:
                created = await self.client.create(path("nodes"), node)
            except APIError as err:
                if err.status != 409:
                    raise
                patch = {"metadata": {"labels": node["metadata"]["labels"]}}
                created = await self.client.patch(path("nodes", name=self.node), patch)
            await self.client.patch(path("nodes", name=self.node, subresource="status"), {"status": node["status"]})
            return str(created["metadata"]["uid"])

        return str(await retrying(f"registering node {self.node}", attempt))

    async def get_node(self) -> dict[str, Any]:
        return await self.client.get(path("nodes", name=self.node))

    async def node_status(self, status: dict[str, Any]) -> None:
        await self.client.patch(path("nodes", name=self.node, subresource="status"), {"status": status})

    async def renew_lease(self, node_uid: str) -> None:
        url = path("leases", LEASE_NAMESPACE, self.node)
        now = rfc3339_micro(utcnow())
        try:
            await self.client.patch(url, {"spec": {"renewTime": now, "holderIdentity": self.node}})
        except APIError as err:
            if err.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.node,
                    "namespace": LEASE_NAMESPACE,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.node, "uid": node_uid}],
                },
                "spec": {"holderIdentity": self.node, "leaseDurationSeconds": LEASE_DURATION, "renewTime": now},
            }
            await self.client.create(path("leases", LEASE_NAMESPACE), lease)

    async def pods(self) -> AsyncIterator[list[dict[str, Any]]]:
        selector = {"fieldSelector": f"spec.nodeName={self.node}"}
        delay = 0.2
        while True:
            try:
                items, rv = await self.client.list(path("pods"), selector)
                current = {p["metadata"]["uid"]: p for p in items}
                yield list(current.values())
                delay = 0.2
                while True:
                    async for kind, obj in self.client.watch(path("pods"), rv, selector):
                        rv = obj["metadata"]["resourceVersion"]
                        uid = obj["metadata"]["uid"]
                        if kind == "DELETED":
                            current.pop(uid, None)
                        else:
                            current[uid] = obj
                        yield list(current.values())
            except WatchExpired:
                log.info("pod watch expired; listing again")
            except (APIError, *_CONNECTION_ERRORS) as err:
                log.warning("pod watch failed (%s); retrying in %.1fs", err or type(err).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def status(self, pod: PodSpecView, status: dict[str, Any], final: bool) -> None:
        url = path("pods", pod.namespace, pod.name)
        try:
            await retrying(
                f"status of {pod.name}",
                self.client.patch,
                url + "/status",
                {"status": status},
                MERGE_PATCH,
                attempts=10,
            )
            if final:
                options = {"gracePeriodSeconds": 0, "preconditions": {"uid": pod.uid}}
                await retrying(f"deleting {pod.name}", self.client.delete, url, options, attempts=10)
        except APIError as err:
            if err.status not in (404, 409):
                log.warning("reporting pod %s/%s: %s", pod.namespace, pod.name, err)

    def event(self, pod: PodSpecView, kind: str, reason: str, message: str) -> None:
        event = pod_event(self.node, pod, kind, reason, message)
        task = asyncio.create_task(self._post_event(event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _post_event(self, event: dict[str, Any]) -> None:
        try:
            await self.client.create(path("events", event["metadata"]["namespace"]), event)
        except (APIError, *_CONNECTION_ERRORS) as err:
            log.debug("event not recorded: %s", err)
