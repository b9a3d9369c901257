"""Ages as kubectl prints them: apimachinery's ``HumanDuration`` and the "since timestamp" helper."""

from __future__ import annotations

from datetime import datetime

from miniplane.timeutil import parse_time

_SECOND = 1_000_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAYS_PER_YEAR = 365


def human_duration(seconds: float) -> str:
    """A duration to 2-3 significant figures: ``45s``, ``3m5s``, ``47m``, ``5h3m``, ``3d4h``, ``1y30d``.

    Up to (but excluding) 2 s in the past is clock skew and prints ``0s``; anything further is ``<invalid>``.
    """
    ns = round(seconds * _SECOND)
    whole_seconds = ns // _SECOND if ns >= 0 else -(-ns // _SECOND)  # truncate toward zero, as Go does
    if whole_seconds < -1:
        return "<invalid>"
    if whole_seconds < 0:
        return "0s"
    if whole_seconds < 120:
        return f"{whole_seconds}s"
    minutes = ns // _MINUTE
    if minutes < 10:
        rest = whole_seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = ns // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 8 * 24:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 2 * _DAYS_PER_YEAR:
        return f"{days}d"
    years = days // _DAYS_PER_YEAR
    if days < 8 * _DAYS_PER_YEAR:
        rest = days % _DAYS_PER_YEAR
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def since(timestamp: str | None, now: datetime) -> str:
    """``human_duration`` of ``now - timestamp``; ``<unknown>`` when the timestamp is missing."""
    if not timestamp:
        return "<unknown>"
    return human_duration((now - parse_time(timestamp)).total_seconds())
