"""Failed-pod back-off (pure): Kubernetes' ``flowcontrol.Backoff`` as data (§4.1).

The loop keeps a ``dict[str, Backoff]`` keyed by ``backoff_key`` (DS UID, its observedGeneration,
node name), passes it to ``compute_plan``, merges the plan's ``backoff`` updates into it, and calls
``prune_backoff`` about once a minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

INITIAL = timedelta(seconds=1)
MAXIMUM = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Backoff:
    """The current delay of one key and when it last grew."""

    delay: timedelta
    last_update: datetime


def backoff_key(ds: Mapping[str, Any], node_name: str) -> str:
    """``<uid>/<status.observedGeneration>/<node>``: a spec change starts a fresh back-off."""
    uid = (ds.get("metadata") or {}).get("uid") or ""
    observed = (ds.get("status") or {}).get("observedGeneration") or 0
    return f"{uid}/{observed}/{node_name}"


def remaining(entry: Backoff | None, now: datetime, maximum: timedelta = MAXIMUM) -> timedelta | None:
    """How long deletions stay throttled, or None when not in back-off."""
    if entry is None or _expired(entry, now, maximum):
        return None
    left = entry.delay - (now - entry.last_update)
    return left if left > timedelta(0) else None


def next_backoff(
    entry: Backoff | None, now: datetime, initial: timedelta = INITIAL, maximum: timedelta = MAXIMUM
) -> Backoff:
    """The entry after one more deletion: initial delay when new or stale, else doubled (capped)."""
    if entry is None or _expired(entry, now, maximum):
        return Backoff(initial, now)
    return Backoff(min(entry.delay * 2, maximum), now)


def prune_backoff(entries: Mapping[str, Backoff], now: datetime, maximum: timedelta = MAXIMUM) -> dict[str, Backoff]:
    """The entries that are not stale yet (stale = untouched for twice the maximum delay)."""
    return {k: v for k, v in entries.items() if not _expired(v, now, maximum)}


def _expired(entry: Backoff, now: datetime, maximum: timedelta) -> bool:
    return now - entry.last_update > 2 * maximum
