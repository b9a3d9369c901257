"""How controllers keep objects decoded in their caches: only what their decisions read.

A controller that caches every Node decoded holds thousands of dicts for the process's lifetime;
each one costs memory and time in every full pass of the cyclic garbage collector. Placement
(the binder's filters, the DaemonSet controller's shouldRun and its wake-ups) reads a Node's name,
labels, taints, ``unschedulable``, allocatable resources and Ready condition; the rest of the Node
(``managedFields``, nodeInfo, addresses, images, the other conditions) stays in the store.
"""

from __future__ import annotations

from typing import Any

from miniplane.store.base import StoredObject

_METADATA = ("name", "uid", "labels")
_SPEC = ("taints", "unschedulable")


def node_view(obj: StoredObject) -> dict[str, Any]:
    """The Node as placement decisions read it."""
    node = obj.decode()
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    view_status: dict[str, Any] = {}
    if "allocatable" in status:
        view_status["allocatable"] = status["allocatable"]
    ready = [c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Ready"]
    if ready:
        view_status["conditions"] = ready
    return {
        "metadata": {k: meta[k] for k in _METADATA if k in meta},
        "spec": {k: spec[k] for k in _SPEC if k in spec},
        "status": view_status,
    }
