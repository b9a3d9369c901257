"""Epoch times as RFC 3339: seconds for the API (`miniplane.timeutil`), fixed nanoseconds for container logs.

No third-party imports: the container shim imports it.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime

from miniplane import timeutil

_NS = 1_000_000_000


def rfc3339(epoch: float) -> str:
    """`2026-11-24T07:06:39Z`, the form of API timestamps."""
    return timeutil.rfc3339(datetime.fromtimestamp(epoch, UTC))


def rfc3339_nano(epoch_ns: int) -> str:
    """`2026-11-24T07:06:39.838687000Z`: always nine fraction digits, as the kubelet's log format."""
    seconds, nanos = divmod(epoch_ns, _NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_rfc3339_ns(text: str) -> int:
    """Epoch nanoseconds of an RFC 3339 UTC timestamp, with or without a fraction; ValueError if malformed."""
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC RFC 3339 timestamp: {text!r}")
    whole, _, fraction = text[:-1].partition(".")
    if fraction and not fraction.isdigit():
        raise ValueError(f"bad fraction in timestamp {text!r}")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds * _NS + int((fraction or "0")[:9].ljust(9, "0"))
