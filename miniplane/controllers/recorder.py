"""core/v1 Events as client-go's event recorder writes them, with its correlator.

Per event, in client-go's order (``tools/record/events_cache.go``):
1. spam filter: each (source, involved object) may burst 25 events, then 1 more every 5 minutes;
   events beyond that are dropped;
2. aggregation: once 10 events differing only in their message were seen within 10 minutes for the
   same (source, object, type, reason), further ones become one event with the message
   ``(combined from similar events): <message>``;
3. de-duplication: an event seen before (same source, object, type, reason and message) bumps the
   ``count`` and ``lastTimestamp`` of the stored one (merge patch) instead of creating another.
Recording never raises: failures are logged, as the recorder's are.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import orjson

from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.store.errors import StoreError
from miniplane.timeutil import rfc3339, utcnow

log = logging.getLogger(__name__)

EVENTS = BY_KEY["events"]
MERGE_PATCH = "application/merge-patch+json"
SPAM_BURST, SPAM_REFILL = 25, timedelta(minutes=5)
AGGREGATE_MAX, AGGREGATE_WINDOW = 10, timedelta(minutes=10)
_CACHE_SIZE = 4096

V = TypeVar("V")


class _LRU(Generic[V]):
    """A bounded map that forgets the least recently used key."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._items: OrderedDict[str, V] = OrderedDict()
        self._size = size

    def get(self, key: str) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: datetime


@dataclass(slots=True)
class _Similar:
    last: datetime
    messages: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Logged:
    name: str
    count: int


class EventRecorder:
    """Records Events about objects on behalf of one component (``source.component``)."""

    def __init__(self, service: ObjectService, component: str, clock: Callable[[], datetime] = utcnow) -> None:
        self.service = service
        self.component = component
        self.clock = clock
        self._spam: _LRU[_Bucket] = _LRU()
        self._similar: _LRU[_Similar] = _LRU()
        self._logged: _LRU[_Logged] = _LRU()
        self._last_nanos = 0

    async def record(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Record one event about ``obj`` (a decoded object with kind, apiVersion and metadata)."""
        meta = obj.get("metadata") or {}
        involved = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        source_key = "\x00".join([self.component, *(involved[k] for k in ("kind", "namespace", "name", "uid"))])
        now = self.clock()
        if not self._take_token(source_key, now):
            return
        similar_key = f"{source_key}\x00{type_}\x00{reason}"
        key, message = self._aggregate(similar_key, message, now)
        logged = self._logged.get(key)
        stamp = rfc3339(now)
        try:
            if logged is not None and await self._bump(involved["namespace"], logged, message, stamp, key):
                return
            await self._create(involved, key, type_, reason, message, stamp)
        except (APIError, StoreError) as err:
            log.warning("could not record event %s %s on %s: %s", type_, reason, involved["name"], err)

    def _take_token(self, key: str, now: datetime) -> bool:
        bucket = self._spam.get(key) or _Bucket(float(SPAM_BURST), now)
        refill = (now - bucket.at) / SPAM_REFILL
        bucket.tokens, bucket.at = min(float(SPAM_BURST), bucket.tokens + refill), now
        self._spam.put(key, bucket)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _aggregate(self, similar_key: str, message: str, now: datetime) -> tuple[str, str]:
        """The de-duplication key and message: the event's own, or the combined event's."""
        similar = self._similar.get(similar_key)
        if similar is None or now - similar.last > AGGREGATE_WINDOW:
            similar = _Similar(now)
        similar.messages.add(message)
        similar.last = now
        self._similar.put(similar_key, similar)
        if len(similar.messages) < AGGREGATE_MAX:
            return f"{similar_key}\x00{message}", message
        similar.messages.pop()
        return similar_key, f"(combined from similar events): {message}"

    async def _bump(self, namespace: str, logged: _Logged, message: str, stamp: str, key: str) -> bool:
        """Count one more occurrence of a stored event; False when it no longer exists."""
        body = {"count": logged.count + 1, "lastTimestamp": stamp, "message": message}
        try:
            await self.service.patch(EVENTS, namespace or "default", logged.name, MERGE_PATCH, orjson.dumps(body))
        except APIError as err:
            if err.code != 404:
                raise
            return False
        self._logged.put(key, _Logged(logged.name, logged.count + 1))
        return True

    async def _create(
        self, involved: dict[str, str], key: str, type_: str, reason: str, message: str, stamp: str
    ) -> None:
        self._last_nanos = max(time.time_ns(), self._last_nanos + 1)
        name = f"{involved['name']}.{self._last_nanos:x}"
        namespace = involved["namespace"] or "default"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "reason": reason,
            "message": message,
            "source": {"component": self.component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": type_,
            "reportingComponent": self.component,
            "reportingInstance": "",
        }
        await self.service.create(EVENTS, namespace, event)
        self._logged.put(key, _Logged(name, 1))
