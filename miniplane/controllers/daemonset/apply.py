"""Carrying out one sync's decisions through the ObjectService: revisions, claims, pods, status.

Revisions are written by ``revisions.py`` (exact ``data`` bytes); pod creations and deletions run
with bounded concurrency, creations in slow-start batches; outcome events go to the recorder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from miniplane.controllers.daemonset import events
from miniplane.controllers.daemonset.claim import controller_ref
from miniplane.controllers.daemonset.history import HistoryPlan
from miniplane.controllers.daemonset.plan import DaemonSetPlan
from miniplane.controllers.daemonset.podutil import HASH_LABEL
from miniplane.controllers.daemonset.revisions import (
    RevisionWriter,
    labelled,
    owned_by,
    released_by,
    renumbered,
)
from miniplane.controllers.daemonset.status import DaemonSetStatus
from miniplane.controllers.recorder import MERGE_PATCH, EventRecorder
from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY

DAEMONSETS = BY_KEY["daemonsets.apps"]
PODS = BY_KEY["pods"]
STRATEGIC_PATCH = "application/strategic-merge-patch+json"

T = TypeVar("T")
R = TypeVar("R")
Obj = dict[str, Any]


class PlanApplier:
    """Applies history and pod plans for the DaemonSet controller; API errors propagate."""

    def __init__(self, service: ObjectService, recorder: EventRecorder, concurrency: int = 32) -> None:
        self.service = service
        self.recorder = recorder
        self.concurrency = concurrency
        self.revisions = RevisionWriter(service)

    # ---- history ------------------------------------------------------------------------------

    async def apply_history(self, ds: Obj, hp: HistoryPlan) -> None:
        """Adopt/release, label, create, renumber revisions; relabel pods; delete duplicates."""
        ns, uid = _ns(ds), ds["metadata"]["uid"]
        if hp.adopt and await self.can_adopt(ds):
            for name in hp.adopt:
                await self.revisions.update(ns, name, owned_by(controller_ref(ds)))
        for name in hp.release:
            await self.revisions.update(ns, name, released_by(uid))
        for name in hp.label_revisions:
            await self.revisions.update(ns, name, labelled(name))
        if hp.create is not None:
            await self.revisions.create(ns, hp.create)
        if hp.renumber is not None:
            await self.revisions.update(ns, hp.renumber[0], renumbered(hp.renumber[1]))
        relabel = orjson.dumps({"metadata": {"labels": {HASH_LABEL: hp.current_hash}}})
        await self.bounded(
            hp.relabel_pods, lambda pod: self._ignore_missing(self.service.patch(PODS, ns, pod, MERGE_PATCH, relabel))
        )
        await self.delete_revisions(ns, hp.delete_duplicates)

    async def delete_revisions(self, ns: str, names: Iterable[str]) -> None:
        for name in names:
            await self.revisions.delete(ns, name)

    async def bump_collision_count(self, ds: Obj) -> None:
        """``status.collisionCount + 1`` through /status, unless someone changed it already."""
        fresh = (await self.service.get(DAEMONSETS, _ns(ds), ds["metadata"]["name"])).decode()
        seen = (ds.get("status") or {}).get("collisionCount")
        if (fresh.get("status") or {}).get("collisionCount") == seen:
            fresh.setdefault("status", {})["collisionCount"] = (seen or 0) + 1
            await self.service.update(DAEMONSETS, _ns(ds), fresh["metadata"]["name"], fresh, subresource="status")

    # ---- pods ---------------------------------------------------------------------------------

    async def can_adopt(self, ds: Obj) -> bool:
        """A fresh read confirms the DaemonSet (same uid) is not being deleted."""
        try:
            fresh = (await self.service.get(DAEMONSETS, _ns(ds), ds["metadata"]["name"])).decode()
        except APIError:
            return False
        meta = fresh["metadata"]
        return meta.get("uid") == ds["metadata"]["uid"] and not meta.get("deletionTimestamp")

    async def claim_pods(self, ds: Obj, plan: DaemonSetPlan, uids: Mapping[str, str]) -> None:
        """Adopt and release pods (strategic-merge patches carrying the pod's uid)."""
        ns, uid = _ns(ds), ds["metadata"]["uid"]
        adopt = list(plan.adopt) if plan.adopt and await self.can_adopt(ds) else []
        for name in adopt:
            body = {"metadata": {"ownerReferences": [controller_ref(ds)], "uid": uids.get(name, "")}}
            await self._ignore_missing(self.service.patch(PODS, ns, name, STRATEGIC_PATCH, orjson.dumps(body)))
        for name in plan.release:
            body = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}], "uid": uids.get(name, "")}}
            await self._ignore_missing(self.service.patch(PODS, ns, name, STRATEGIC_PATCH, orjson.dumps(body)))

    async def apply_pods(self, ds: Obj, plan: DaemonSetPlan) -> list[APIError]:
        """Record the plan's events, delete, then create in slow-start batches; returns the errors."""
        for event in plan.events:
            await self.recorder.record(ds, event.type, event.reason, event.message)
        errors = [err for err in await self.bounded(plan.delete, lambda pod: self._delete_pod(ds, pod)) if err]
        batch, start = 1, 0
        while start < len(plan.new_pods):
            chunk = range(start, min(start + batch, len(plan.new_pods)))  # each body is built when its turn comes
            failed = [err for err in await self.bounded(chunk, lambda i: self._create_pod(ds, plan.new_pods[i])) if err]
            if failed:
                errors += failed
                break
            start += batch
            batch *= 2
        return errors

    async def _delete_pod(self, ds: Obj, name: str) -> APIError | None:
        try:
            await self.service.delete(PODS, _ns(ds), name)
        except APIError as err:
            if err.code == 404:
                return None
            await self.recorder.record(ds, *_typed(events.failed_delete(err.message)))
            return err
        await self.recorder.record(ds, *_typed(events.deleted(name)))
        return None

    async def _create_pod(self, ds: Obj, body: Obj) -> APIError | None:
        """Create one pod from ``body`` (a plan's fresh body: the service fills it in place)."""
        try:
            result = await self.service.create(PODS, _ns(ds), body)
        except APIError as err:
            await self.recorder.record(ds, *_typed(events.failed_create(err.message)))
            return err
        await self.recorder.record(ds, *_typed(events.created(orjson.loads(result.raw)["metadata"]["name"])))
        return None

    # ---- status -------------------------------------------------------------------------------

    async def write_status(self, ds: Obj, status: DaemonSetStatus) -> None:
        """PUT /status with the counters replaced; on a conflict re-read and retry once."""
        current = ds
        for attempt in range(2):
            counters = status.apply_to(current.get("status") or {})
            body = {**current, "metadata": dict(current["metadata"]), "status": counters}
            try:
                await self.service.update(DAEMONSETS, _ns(ds), ds["metadata"]["name"], body, subresource="status")
                return
            except APIError as err:
                if err.code != 409 or attempt:
                    raise
            current = (await self.service.get(DAEMONSETS, _ns(ds), ds["metadata"]["name"])).decode()

    # ---- helpers ------------------------------------------------------------------------------

    async def bounded(self, items: Sequence[T], work: Callable[[T], Awaitable[R]]) -> list[R]:
        """``work`` on every item, at most ``concurrency`` at a time, yielding between items."""
        limit = asyncio.Semaphore(self.concurrency)

        async def one(item: T) -> R:
            async with limit:
                await asyncio.sleep(0)
                return await work(item)

        return list(await asyncio.gather(*(one(i) for i in items)))

    @staticmethod
    async def _ignore_missing(call: Awaitable[object]) -> None:
        try:
            await call
        except APIError as err:
            if err.code != 404:
                raise


def _ns(ds: Obj) -> str:
    return str(ds["metadata"].get("namespace") or "default")


def _typed(event: events.Event) -> tuple[str, str, str]:
    return event.type, event.reason, event.message
