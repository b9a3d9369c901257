"""Timestamps as Kubernetes writes them, and Go-style durations as the command line takes them."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(t: datetime) -> str:
    """``2026-11-24T07:04:42Z`` (seconds precision, UTC), as metadata timestamps are written."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(t: datetime) -> str:
    """``2026-11-24T07:04:42.123456Z``, as MicroTime fields (Lease renewTime, eventTime) are written."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=4096)
def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or an offset, with or without fractions).

    Remembered: controllers parse the same creation and transition times over and over, and
    thousands of pods share each second."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; Kubernetes may send 9.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_duration(text: str) -> float:
    """Seconds from a Go duration (``500ms``, ``5s``, ``2m``, ``1h30m``) or a bare number of seconds."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(value) or not value:
        raise ValueError(f"invalid duration {text!r} (use e.g. 500ms, 10s, 2m)")
    return total
