"""RFC 7386 JSON merge patch (``application/merge-patch+json``)."""

from __future__ import annotations

from typing import Any

from miniplane.patch._json import clone


def json_merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` merged in: objects merge recursively, ``null`` deletes, the rest replaces.

    Neither argument is modified; the result shares no objects with them.
    """
    return _merge(clone(target), patch)


def _merge(owned: Any, patch: Any) -> Any:
    """Merge ``patch`` into ``owned``, which the caller allows to be modified."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = owned if isinstance(owned, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result
