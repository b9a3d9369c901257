"""An approximation of server-side apply (``application/apply-patch+yaml``).

Real server-side apply tracks the owner of every field (``managedFields``) and reports conflicts between
managers. miniplane keeps less: the caller remembers, per object and field manager, the last object that
manager applied, and passes it back on the next apply. Then:

- no live object: the applied object is created as is;
- otherwise the applied object is merged into the live one with strategic-merge-patch semantics (maps
  merge, keyed lists merge by their merge key, atomic lists are replaced), and every field, keyed list
  item or set value that was in ``last_applied`` but is missing from ``applied`` is removed, so a
  re-apply can remove what an earlier apply set. Fields set by anyone else are kept.

There is no conflict detection (``force`` makes no difference) and no ``managedFields``.
"""

from __future__ import annotations

from typing import Any

from miniplane.patch.errors import PatchError
from miniplane.patch.strategic import (
    DELETE_FROM_PRIMITIVE_LIST,
    PATCH,
    SET_ELEMENT_ORDER,
    strategic_merge_patch,
)
from miniplane.schema.definitions import FieldSchema


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    last_applied: dict[str, Any] | None,
    schema: FieldSchema,
) -> dict[str, Any]:
    """The object after ``applied`` is applied to ``live`` (None: create) by a manager whose previous
    apply was ``last_applied`` (None: first apply). No argument is modified.

    The caller stores ``applied`` as that manager's new ``last_applied`` once the result is accepted.
    """
    if not isinstance(applied, dict):
        raise PatchError("an applied configuration must be an object")
    patch = _apply_patch(last_applied or {}, applied, schema)
    return strategic_merge_patch(live or {}, patch, schema)


def _apply_patch(last: dict[str, Any], applied: dict[str, Any], schema: FieldSchema) -> dict[str, Any]:
    """A strategic merge patch that sets ``applied`` and removes what only ``last`` had."""
    patch: dict[str, Any] = {key: None for key in last if key not in applied}
    for key, value in applied.items():
        previous = last.get(key)
        child = schema.child(key)
        if isinstance(value, dict) and isinstance(previous, dict):
            patch[key] = _apply_patch(previous, value, child)
        elif isinstance(value, list) and isinstance(previous, list) and "merge" in child.patch_strategy:
            patch.update(_list_patch(key, previous, value, child))
        else:
            patch[key] = value
    return patch


def _list_patch(field: str, last: list[Any], applied: list[Any], schema: FieldSchema) -> dict[str, Any]:
    """The patch entries for a merge-strategy list: the applied items, deletions of dropped ones, order."""
    key = schema.patch_merge_key
    keyed = key is not None and all(
        isinstance(i, dict) and isinstance(i.get(key), str | int) for i in [*last, *applied]
    )
    if not keyed:
        gone = [v for v in last if v not in applied]
        return {field: applied, DELETE_FROM_PRIMITIVE_LIST + field: gone, SET_ELEMENT_ORDER + field: applied}
    previous = {item[key]: item for item in last}
    kept = {item[key] for item in applied}
    items = [_apply_patch(previous.get(item[key], {}), item, schema.item()) for item in applied]
    deletions = [{PATCH: "delete", key: k} for k in previous if k not in kept]
    order = [{key: item[key]} for item in applied]
    return {field: items + deletions, SET_ELEMENT_ORDER + field: order}
