"""Which DaemonSets a change wakes (§5.7 "Events that wake a DS", §1.5), as cheap functions over
the controller's DaemonSet cache.

- pod: its controlling DaemonSet (the old one too when the controller reference changed); an
  orphan added or relabelled wakes every DaemonSet of its namespace that selects it; an owned pod
  turning Ready also wakes its DaemonSet ``minReadySeconds + 1`` s later;
- ControllerRevision: like pods, except that creating an owned revision wakes nobody;
- node added: the DaemonSets that should run there; deleted: all; updated: nothing unless labels,
  taints, ``unschedulable`` or the Ready status changed, then those whose (shouldRun,
  shouldContinueRunning) flipped, plus those with misscheduled pods (Kubernetes 1.34);
- DaemonSet: itself, unless only its status changed (other than ``collisionCount``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from miniplane.controllers.daemonset.claim import selector
from miniplane.controllers.daemonset.podutil import is_ready
from miniplane.scheduling.daemon import daemon_pod_spec, should_run_spec
from miniplane.selectors import LabelSelector
from miniplane.store.base import StoredObject, WatchEvent

Key = tuple[str, str]  # (namespace, name) of a DaemonSet
Obj = Mapping[str, Any]
Wake = tuple[Key, float]  # a DaemonSet and the delay (seconds) before its sync


@dataclass(frozen=True, slots=True)
class CachedDaemonSet:
    """A DaemonSet as the event handlers need it, decoded once per version."""

    ds: dict[str, Any]
    uid: str
    selector: LabelSelector | None
    pod_spec: dict[str, Any]  # daemon_pod_spec(ds), for the node-update prefilter
    min_ready_seconds: int

    @classmethod
    def of(cls, ds: dict[str, Any]) -> CachedDaemonSet:
        spec = ds.get("spec") or {}
        uid = str((ds.get("metadata") or {}).get("uid") or "")
        return cls(ds, uid, selector(ds), daemon_pod_spec(ds), int(spec.get("minReadySeconds") or 0))


Cache = Mapping[Key, CachedDaemonSet]


def daemonset_changed(event: WatchEvent) -> bool:
    """Whether a DaemonSet change needs a sync: anything but a status-only write."""
    if event.type != "MODIFIED" or event.prev is None:
        return True
    new, old = event.obj.decode(), event.prev.decode()
    return (
        _without_version(new.get("metadata")) != _without_version(old.get("metadata"))
        or new.get("spec") != old.get("spec")
        or (new.get("status") or {}).get("collisionCount") != (old.get("status") or {}).get("collisionCount")
    )


def owned_object_wakes(event: WatchEvent, cache: Cache, *, wake_on_owned_add: bool) -> list[Wake]:
    """DaemonSets a pod or ControllerRevision change wakes (revisions: ``wake_on_owned_add=False``)."""
    new = event.obj.decode()
    new_ref = _controller(new)
    if event.type == "DELETED":
        return [(key, 0.0) for key in _owner(new_ref, new, cache)]
    if event.type == "ADDED" or event.prev is None:
        if new_ref is not None:
            return [(key, 0.0) for key in _owner(new_ref, new, cache)] if wake_on_owned_add else []
        return [(key, 0.0) for key in _selecting(event.obj, cache)]
    old = event.prev.decode()
    old_ref = _controller(old)
    wakes = [(key, 0.0) for key in _owner(old_ref, old, cache)] if old_ref != new_ref else []
    if new_ref is not None:
        for key in _owner(new_ref, new, cache):
            wakes.append((key, 0.0))
            min_ready = cache[key].min_ready_seconds
            if min_ready > 0 and is_ready(new) and not is_ready(old):
                wakes.append((key, float(min_ready + 1)))
    elif old_ref is not None or event.obj.labels != event.prev.labels:
        wakes += [(key, 0.0) for key in _selecting(event.obj, cache)]
    return wakes


def node_wakes(old: Obj | None, new: Obj | None, cache: Cache) -> list[Key]:
    """DaemonSets a node change wakes; ``old``/``new`` are None for an added/deleted node."""
    if new is None:
        return list(cache)
    if old is None:
        return [key for key, entry in cache.items() if should_run_spec(new, entry.pod_spec)[0]]
    if _placement_facts(old) == _placement_facts(new):
        return []
    return [
        key
        for key, entry in cache.items()
        if should_run_spec(old, entry.pod_spec) != should_run_spec(new, entry.pod_spec)
        or int((entry.ds.get("status") or {}).get("numberMisscheduled") or 0) > 0
    ]


def _placement_facts(node: Obj) -> tuple[Any, ...]:
    spec = node.get("spec") or {}
    ready = next(
        (c.get("status") for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
        None,
    )
    labels = (node.get("metadata") or {}).get("labels") or {}
    return labels, spec.get("taints") or [], bool(spec.get("unschedulable")), ready


def _controller(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _owner(ref: Obj | None, obj: Obj, cache: Cache) -> Iterable[Key]:
    """The cached DaemonSet a controller reference names (kind and uid must match)."""
    if ref is None or ref.get("kind") != "DaemonSet":
        return ()
    key = ((obj.get("metadata") or {}).get("namespace") or "", str(ref.get("name") or ""))
    entry = cache.get(key)
    return (key,) if entry is not None and entry.uid == ref.get("uid") else ()


def _selecting(obj: StoredObject, cache: Cache) -> list[Key]:
    """DaemonSets of the object's namespace whose selector matches its labels (orphans)."""
    return [
        key
        for key, entry in cache.items()
        if key[0] == obj.namespace and entry.selector is not None and entry.selector.matches(obj.labels)
    ]


def _without_version(meta: Any) -> dict[str, Any]:
    return {k: v for k, v in (meta or {}).items() if k not in ("resourceVersion", "managedFields")}
