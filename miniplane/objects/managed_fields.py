"""``metadata.managedFields``: which manager wrote which fields, in Kubernetes' FieldsV1 notation.

Every write records an entry per (manager, operation). ``Apply`` entries list the fields the
manager applied (``f:name``, ``k:{"name":"c"}`` for keyed list items, ``v:"x"`` for set items);
server-side apply reads them back to find fields a manager stopped applying. Update entries are an
approximation: they list the fields the write changed.
"""

from __future__ import annotations

from typing import Any

import orjson

from miniplane.schema.definitions import FieldSchema, kind_schema
from miniplane.timeutil import rfc3339, utcnow

FieldsV1 = dict[str, Any]


def without(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy without managedFields and resourceVersion, for change detection."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("managedFields", "resourceVersion")}
    return {**obj, "metadata": meta}


def fields_v1(value: Any, schema: FieldSchema) -> FieldsV1:
    """The FieldsV1 set of the fields present in ``value``."""
    if isinstance(value, dict):  # a scalar's set is empty whatever its schema: no lookup for it
        return {f"f:{k}": fields_v1(v, schema.child(k)) if isinstance(v, dict | list) else {} for k, v in value.items()}
    if isinstance(value, list) and "merge" in schema.patch_strategy:
        key = schema.patch_merge_key
        item_schema = schema.item()
        out: FieldsV1 = {}
        for item in value:
            if key and isinstance(item, dict) and key in item:
                out["k:" + orjson.dumps({key: item[key]}).decode()] = fields_v1(item, item_schema)
            elif not isinstance(item, dict | list):
                out["v:" + orjson.dumps(item).decode()] = {}
        return out
    return {}


def skeleton(fields: FieldsV1) -> dict[str, Any]:
    """An object with the shape a FieldsV1 set describes (leaves are None)."""
    out: dict[str, Any] = {}
    for name, sub in fields.items():
        if not name.startswith("f:"):
            continue
        key = name[2:]
        keyed = [orjson.loads(n[2:]) for n in sub if n.startswith("k:")]
        values = [orjson.loads(n[2:]) for n in sub if n.startswith("v:")]
        if keyed or values:
            items: list[Any] = [{**k, **skeleton(sub[f"k:{orjson.dumps(k).decode()}"])} for k in keyed]
            out[key] = items + values
        else:
            out[key] = skeleton(sub) if sub else None
    return out


def _entry(manager: str, operation: str, api_version: str, fields: FieldsV1) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": _clock.now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


class _SecondsClock:
    """The current time as an entry's ``time`` (seconds precision): formatted once per second."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def now(self) -> str:
        t = utcnow()
        second = int(t.timestamp())
        if second != self.second:
            self.second, self.text = second, rfc3339(t)
        return self.text


_clock = _SecondsClock()


def _upsert(obj: dict[str, Any], entry: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    kept = [e for e in entries if (e.get("manager"), e.get("operation")) != (entry["manager"], entry["operation"])]
    obj["metadata"]["managedFields"] = [*kept, entry]


def _changed(old: Any, new: Any) -> Any:
    """The part of ``new`` that differs from ``old`` (maps compared key by key)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: _changed(old.get(k), v) for k, v in new.items() if old.get(k) != v}
    return new


def _changed_body(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``_changed`` over what Update entries track: everything but kind, apiVersion and the metadata
    other than labels and annotations."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        if key == "metadata":
            meta = _meta_of(new)
            old_meta = _meta_of(old)
            if meta != old_meta:
                out[key] = _changed(old_meta, meta)
        elif key not in ("kind", "apiVersion") and old.get(key) != value:
            out[key] = _changed(old.get(key), value)
    return out


def _covers(fields: FieldsV1, other: FieldsV1) -> bool:
    """Whether every path of ``other`` is in ``fields``."""
    for key, sub in other.items():
        mine = fields.get(key)
        if not isinstance(mine, dict) or (sub and not _covers(mine, sub)):
            return False
    return True


def record(
    obj: dict[str, Any], manager: str, operation: str, api_version: str, old: dict[str, Any] | None = None
) -> None:
    """Note an Update (or Create) by ``manager``; keep the stored entries otherwise."""
    meta = obj["metadata"]
    entries = (
        meta.get("managedFields") if "managedFields" in meta else (old or {}).get("metadata", {}).get("managedFields")
    )
    entries = [e for e in entries or [] if isinstance(e, dict)]
    if not manager:
        meta["managedFields"] = entries
        return
    changed = _changed_body(old or {}, obj)
    previous = next((e for e in entries if (e.get("manager"), e.get("operation")) == (manager, operation)), None)
    before = previous.get("fieldsV1") if previous else None
    written = fields_v1(changed, kind_schema(api_version, obj.get("kind", "")))
    if not isinstance(before, dict):
        fields = written
    elif _covers(before, written):  # the usual heartbeat or status write: the manager's set stays as it is
        fields = before
    else:
        fields = _union(before, written)
    _upsert(obj, _entry(manager, operation, api_version, fields), entries)


def record_apply(obj: dict[str, Any], manager: str, api_version: str, applied: dict[str, Any]) -> None:
    """Note what ``manager`` applied, replacing its previous Apply entry."""
    applied_body = {k: v for k, v in applied.items() if k not in ("kind", "apiVersion")}
    meta = applied_body.get("metadata", {})
    applied_body["metadata"] = {k: v for k, v in meta.items() if k in ("labels", "annotations")}
    fields = fields_v1(applied_body, kind_schema(api_version, obj.get("kind", "")))
    entries = [e for e in obj["metadata"].get("managedFields") or [] if isinstance(e, dict)]
    _upsert(obj, _entry(manager, "Apply", api_version, fields), entries)


def applied_skeleton(live: dict[str, Any], manager: str) -> dict[str, Any] | None:
    """The shape of what ``manager`` applied last, or None if it never applied."""
    for entry in live.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return skeleton(entry.get("fieldsV1") or {})
    return None


def _meta_of(obj: dict[str, Any] | None) -> dict[str, Any]:
    meta = (obj or {}).get("metadata", {})
    return {k: v for k, v in meta.items() if k in ("labels", "annotations")}


def _union(a: FieldsV1, b: FieldsV1) -> FieldsV1:
    out = dict(a)
    for k, v in b.items():
        out[k] = _union(out.get(k, {}), v)
    return out
