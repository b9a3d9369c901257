"""Revisions (pure): ControllerRevision ``data``, the revision hash, and the bookkeeping of §3.2/§3.7.

``plan_history`` is Kubernetes' ``constructHistory`` + ``dedupCurHistories`` + ``cleanupHistory`` as
data. The loop applies it before planning pods (``prune`` last, on full syncs); ``current_hash`` is
the label new pods get.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from miniplane.controllers.daemonset.claim import claim, controller_ref
from miniplane.controllers.daemonset.gojson import go_json, normalize_template
from miniplane.controllers.daemonset.podutil import HASH_LABEL, group_by_node, labels, name

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
DEFAULT_HISTORY_LIMIT = 10

Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryPlan:
    """What to do with the DaemonSet's ControllerRevisions on this sync."""

    current_hash: str  # label value for new pods; "" when ``collision``
    current_name: str  # the current revision (existing, or ``create``)
    collision: bool = False  # name taken by other data: bump status.collisionCount, requeue, stop
    create: dict[str, Any] | None = None  # ControllerRevision body to create
    renumber: tuple[str, int] | None = None  # (revision name, new ``revision``)
    delete_duplicates: tuple[str, ...] = ()  # other revisions equal to the current template
    relabel_pods: tuple[str, ...] = ()  # merge-patch their hash label to ``current_hash`` first
    label_revisions: tuple[str, ...] = ()  # owned revisions lacking the hash label: set it to their name
    adopt: tuple[str, ...] = ()
    release: tuple[str, ...] = ()
    prune: tuple[str, ...] = ()  # old revisions beyond revisionHistoryLimit, deleted after the pods


def revision_data(template: Mapping[str, Any]) -> bytes:
    """``{"spec":{"template":{"$patch":"replace",...}}}``, byte for byte as Kubernetes writes it."""
    return go_json({"spec": {"template": {"$patch": "replace", **normalize_template(template)}}})


def revision_hash(data: bytes, collision_count: int | None) -> str:
    """FNV-32a of ``data`` (and the collision count when set), in decimal, over the safe alphabet."""
    value = _FNV_OFFSET
    extra = collision_count.to_bytes(4, "little") if collision_count is not None else b""
    for byte in data + extra:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return "".join(_ALPHABET[ord(digit) % len(_ALPHABET)] for digit in str(value))


def revision_matches(data: bytes, revision: Obj) -> bool:
    """Whether the revision's ``data`` (raw bytes/str as served, or decoded) equals ``data``."""
    stored = revision.get("data")
    if isinstance(stored, str):
        stored = stored.encode()
    return (stored if isinstance(stored, bytes) else go_json(stored)) == data


def plan_history(ds: Obj, revisions: Iterable[Obj], pods: Iterable[Obj]) -> HistoryPlan:
    """Decide current/old revisions, creation, renumbering, de-duplication and pruning.

    ``revisions`` and ``pods`` are every ControllerRevision and pod of the DS namespace.
    """
    revisions, pods = list(revisions), list(pods)
    claimed = claim(ds, revisions)
    unlabelled = tuple(name(r) for r in claimed.owned if HASH_LABEL not in labels(r))
    data = revision_data((ds.get("spec") or {}).get("template") or {})
    current = [r for r in claimed.owned if revision_matches(data, r)]
    old = [r for r in claimed.owned if not revision_matches(data, r)]
    next_revision = max((int(r.get("revision") or 0) for r in old), default=0) + 1
    base = HistoryPlan("", "", label_revisions=unlabelled, adopt=claimed.adopt, release=claimed.release)
    claimed_pods = claim(ds, pods).owned
    prune = _prune(ds, old, claimed_pods)
    if not current:
        collision_count = (ds.get("status") or {}).get("collisionCount")
        hash_ = revision_hash(data, collision_count)
        rev_name = f"{name(ds)}-{hash_}"
        taken = next((r for r in revisions if name(r) == rev_name), None)
        if taken is None:
            body = _revision(ds, rev_name, hash_, data, next_revision)
            return replace(base, current_hash=hash_, current_name=rev_name, create=body, prune=prune)
        if revision_matches(data, taken):
            return replace(base, current_hash=_hash_of(taken), current_name=rev_name, prune=prune)
        return replace(base, collision=True)
    keep = current[0]
    for rev in current:
        if int(rev.get("revision") or 0) >= int(keep.get("revision") or 0):
            keep = rev
    hash_ = _hash_of(keep)
    duplicates = tuple(name(r) for r in current if r is not keep)
    relabel = tuple(name(p) for p in claimed_pods if labels(p).get(HASH_LABEL) != hash_) if duplicates else ()
    renumber = (name(keep), next_revision) if int(keep.get("revision") or 0) < next_revision else None
    return replace(
        base,
        current_hash=hash_,
        current_name=name(keep),
        renumber=renumber,
        delete_duplicates=duplicates,
        relabel_pods=relabel,
        prune=prune,
    )


def _prune(ds: Obj, old: list[Obj], pods: Iterable[Obj]) -> tuple[str, ...]:
    """Old revisions beyond the limit, lowest ``revision`` first, sparing hashes live pods carry."""
    limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
    to_kill = len(old) - (DEFAULT_HISTORY_LIMIT if limit is None else int(limit))
    by_node = group_by_node(pods, include_deleted_terminal=True)
    live = {labels(p).get(HASH_LABEL) for node_pods in by_node.values() for p in node_pods}
    doomed: list[str] = []
    for rev in sorted(old, key=lambda r: int(r.get("revision") or 0)):
        if len(doomed) >= to_kill:
            break
        if _hash_of(rev) not in live:
            doomed.append(name(rev))
    return tuple(doomed)


def _hash_of(revision: Obj) -> str:
    """The revision's hash label; a revision without one gets its own name (as upstream labels it)."""
    return labels(revision).get(HASH_LABEL) or name(revision)


def _revision(ds: Obj, rev_name: str, hash_: str, data: bytes, number: int) -> dict[str, Any]:
    meta = ds.get("metadata") or {}
    template_labels = (((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
    metadata: dict[str, Any] = {
        "name": rev_name,
        "namespace": meta.get("namespace") or "default",
        "labels": {**(template_labels or {}), HASH_LABEL: hash_},
        "ownerReferences": [controller_ref(ds)],
    }
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": metadata}
    return body | {"data": json.loads(data), "revision": number}
