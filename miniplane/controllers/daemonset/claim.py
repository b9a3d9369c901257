"""Ownership (pure): the DaemonSet's controller reference, and claiming pods and revisions (§5.7).

Kubernetes' ``ControllerRefManager``: objects controlled by another owner are ignored; owned objects
that still match the selector are kept, those that stopped matching are released; orphans that
match are adopted unless they, or the DaemonSet, are being deleted or live in another namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from miniplane.controllers.daemonset.podutil import is_terminating, labels, name
from miniplane.selectors import LabelSelector, SelectorError

Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a DaemonSet controls after claiming: ``owned`` includes the adopted objects."""

    owned: tuple[Obj, ...]
    adopt: tuple[str, ...]  # names to patch the controller reference into
    release: tuple[str, ...]  # names to patch the controller reference out of


def controller_ref(ds: Obj) -> dict[str, Any]:
    """The ownerReference a DaemonSet puts on its pods and revisions."""
    meta = ds.get("metadata") or {}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": meta.get("name") or "",
        "uid": meta.get("uid") or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: Obj) -> str | None:
    """The UID of the object's controller (the ownerReference with ``controller: true``), or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return None


def selector(ds: Obj) -> LabelSelector | None:
    """``spec.selector`` parsed; None when absent or invalid (then it selects nothing)."""
    raw = (ds.get("spec") or {}).get("selector")
    if raw is None:
        return None
    try:
        return LabelSelector.from_api(raw)
    except SelectorError:
        return None


def selects_all(ds: Obj) -> bool:
    """Whether the selector is empty (``SelectingAll``: the controller then does nothing)."""
    sel = selector(ds)
    return sel is not None and sel.empty


def claim(ds: Obj, objects: Iterable[Obj]) -> Claim:
    """Claim ``objects`` (pods or ControllerRevisions) for the DaemonSet.

    Without a usable selector nothing is claimed, adopted or released (upstream fails the sync).
    """
    meta = ds.get("metadata") or {}
    uid, namespace = meta.get("uid"), meta.get("namespace") or "default"
    deleting = bool(meta.get("deletionTimestamp"))
    sel = selector(ds)
    owned: list[Obj] = []
    adopt: list[str] = []
    release: list[str] = []
    if sel is None:
        return Claim((), (), ())
    for obj in objects:
        matches = sel.matches(labels(obj))
        owner = controller_uid(obj)
        if owner is not None:
            if owner != uid:
                continue
            if matches:
                owned.append(obj)
            elif not deleting:
                release.append(name(obj))
            continue
        obj_namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        if matches and not deleting and not is_terminating(obj) and obj_namespace == namespace:
            owned.append(obj)
            adopt.append(name(obj))
    return Claim(tuple(owned), tuple(adopt), tuple(release))
