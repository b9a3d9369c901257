"""An MQTT agent's writes, applied through ``ObjectService`` with the NodeRestriction rules of HTTP.

The node name comes from the topic, which the broker's ACL ties to the connection's credentials. A
node writes only its own Node (and its status), its own Lease in ``kube-node-lease``, Events, and
the status of pods bound to it (deleting them once they have stopped). Stale reports do no harm: a
pod status carries the pod's uid (a precondition) and a sequence number, older ones are dropped; a
Lease only moves forward.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson

from miniplane.controllers.recorder import EventRecorder
from miniplane.mqtt import lastwill
from miniplane.objects import errors
from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.store import errors as store_errors
from miniplane.store.base import StoredObject
from miniplane.timeutil import utcnow

log = logging.getLogger(__name__)

NODES, PODS, LEASES, EVENTS = (BY_KEY[k] for k in ("nodes", "pods", "leases.coordination.k8s.io", "events"))
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
MERGE_PATCH = "application/merge-patch+json"


class NodeWrites:
    """Applies what agents send, each write checked against the sending node."""

    def __init__(self, service: ObjectService) -> None:
        self.service = service
        self.recorder = EventRecorder(service, "node-controller")
        self._pod_seq: dict[str, int] = {}  # pod uid → newest status sequence applied
        self._node_seq: dict[str, int] = {}

    async def register(self, node_name: str, node: dict[str, Any]) -> StoredObject:
        """Create the node, or refresh its labels; then its status. Returns the stored Node."""
        meta = node.get("metadata")
        if not isinstance(meta, dict) or meta.get("name") != node_name:
            raise errors.forbidden(f'node "{node_name}" may only register itself')
        status = node.get("status") or {}
        try:
            await self.service.create(NODES, "", node)
        except APIError as err:
            if err.code != 409:
                raise
            patch = {"metadata": {"labels": meta.get("labels") or {}}}
            await self.service.patch(NODES, "", node_name, MERGE_PATCH, orjson.dumps(patch))
        await self._patch_status(NODES, "", node_name, {"status": status})
        return await self.service.get(NODES, "", node_name)

    async def node_status(self, node_name: str, seq: int, status: dict[str, Any]) -> None:
        """PATCH nodes/NAME/status unless a newer report was applied already."""
        if seq <= self._node_seq.get(node_name, -1):
            return
        self._node_seq[node_name] = seq
        await self._patch_status(NODES, "", node_name, {"status": status})

    async def renew_lease(self, node_name: str, renew_time: str, node_uid: str) -> None:
        """Move the node's Lease forward to ``renew_time`` (create it when missing)."""
        try:
            stored = await self.service.get(LEASES, LEASE_NAMESPACE, node_name)
        except APIError as err:
            if err.code != 404:
                raise
            await self.service.create(LEASES, LEASE_NAMESPACE, _lease(node_name, renew_time, node_uid))
            return
        if stored.decode().get("spec", {}).get("renewTime", "") >= renew_time:
            return
        patch = {"spec": {"renewTime": renew_time, "holderIdentity": node_name}}
        await self.service.patch(LEASES, LEASE_NAMESPACE, node_name, MERGE_PATCH, orjson.dumps(patch))

    async def pod_status(self, node_name: str, report: dict[str, Any]) -> None:
        """Write a pod's status (its uid a precondition); delete it with grace 0 when ``final``."""
        namespace, name, uid, seq = report["namespace"], report["name"], report["uid"], report["seq"]
        stored = await self.service.get(PODS, namespace, name)
        if stored.fields.get("spec.nodeName") != node_name:
            raise errors.forbidden(f'node "{node_name}" can only update pods bound to it')
        if seq <= self._pod_seq.get(uid, -1):
            return
        self._pod_seq[uid] = seq
        patch = {"metadata": {"uid": uid}, "status": orjson.loads(report["status"])}
        await self._patch_status(PODS, namespace, name, patch)
        if report.get("final"):
            options = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
            try:
                await self.service.delete(PODS, namespace, name, options)
            except APIError as err:
                if err.code not in (404, 409):
                    raise
            self._pod_seq.pop(uid, None)

    async def event(self, node_name: str, event: dict[str, Any]) -> None:
        """Record an Event the agent reports (``source.host`` must be the node)."""
        if (event.get("source") or {}).get("host") != node_name:
            raise errors.forbidden(f'node "{node_name}" can only record its own events')
        namespace = (event.get("metadata") or {}).get("namespace") or "default"
        await self.service.create(EVENTS, namespace, event)

    async def connection_lost(
        self, node_name: str, now: datetime | None = None, message: str = lastwill.MESSAGE
    ) -> bool:
        """Mark the node Unknown with the unreachable taints (its connection is gone); False if it was already."""
        now = now or utcnow()
        for _ in range(5):
            try:
                stored = await self.service.store.get(NODES.key, "", node_name)
            except store_errors.NotFound:
                return False
            node = stored.decode()
            update = lastwill.connection_lost(node, now, message)
            if update is None:
                return False
            try:
                written = await self.service.store.update(NODES.key, lastwill.apply(node, update), expect_rv=stored.rv)
            except store_errors.Conflict:
                continue
            text = f"Node {node_name} status is now: NodeNotReady ({message})"
            await self.recorder.record(written.decode(), "Normal", "NodeNotReady", text)
            return True
        return False

    async def goodbye(self, node_name: str) -> None:
        """A clean agent stop: only an Event; the grace-period path decides if the node stays away."""
        try:
            node = (await self.service.get(NODES, "", node_name)).decode()
        except APIError:
            return
        await self.recorder.record(node, "Normal", "AgentStopped", f"Agent of node {node_name} stopped cleanly")

    async def _patch_status(self, info: Any, namespace: str, name: str, patch: dict[str, Any]) -> None:
        await self.service.patch(info, namespace, name, MERGE_PATCH, orjson.dumps(patch), subresource="status")


def _lease(node_name: str, renew_time: str, node_uid: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": node_name, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": LEASE_DURATION, "renewTime": renew_time},
    }
