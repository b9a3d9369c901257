"""How controllers keep objects decoded in their caches: without what no decision reads.

A controller that caches every Node decoded holds thousands of dicts for the process's lifetime;
each one costs memory and time in every full pass of the cyclic garbage collector. The
``managedFields`` bookkeeping is about half of a Node's dicts and no controller decision reads it.
"""

from __future__ import annotations

from typing import Any

from miniplane.store.base import StoredObject


def decode_for_cache(obj: StoredObject) -> dict[str, Any]:
    """The object decoded, minus ``metadata.managedFields``."""
    decoded = obj.decode()
    decoded.get("metadata", {}).pop("managedFields", None)
    return decoded
