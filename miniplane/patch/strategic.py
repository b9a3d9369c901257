"""Strategic merge patch (``application/strategic-merge-patch+json``) as the Kubernetes API server applies it.

- Maps merge recursively; a ``null`` value deletes the key.
- Lists replace, unless the field's patch strategy (from the schema) contains ``merge``: then map items
  merge by the field's merge key (an existing item with the same key is merged into, a new key is
  appended) and primitive items are added as a set union (``metadata.finalizers``).
- Directives are interpreted and never kept: ``$patch: replace|delete|merge`` in a map;
  ``{"$patch": "replace"}`` (replace the whole list) and ``{"$patch": "delete", <key>: v}`` as list items;
  ``$setElementOrder/<list>``, ``$retainKeys`` and ``$deleteFromPrimitiveList/<list>`` as map keys.
  Any other ``$`` key is rejected.

Values placed where nothing existed are built the same way (merged into an empty value), so their ``null``
values are dropped and their directives interpreted too. One deliberate difference from Kubernetes:
``$patch: delete`` inside a map removes that map (Kubernetes leaves an empty map behind).
"""

from __future__ import annotations

from typing import Any

from miniplane.patch._json import clone
from miniplane.patch.errors import PatchError
from miniplane.schema.definitions import FieldSchema

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target: dict[str, Any], patch: dict[str, Any], schema: FieldSchema) -> dict[str, Any]:
    """``target`` with ``patch`` merged in; ``schema`` is the kind's root (``kind_schema``).

    Neither argument is modified; the result shares no objects with them.
    """
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(clone(target), patch, schema)
    return {} if merged is None else merged


def _merge_value(owned: Any, patch: Any, schema: FieldSchema) -> Any:
    """Merge any patch value into ``owned`` (which may be modified); None means "no value"."""
    if isinstance(patch, dict):
        return _merge_map(owned if isinstance(owned, dict) else {}, patch, schema)
    if isinstance(patch, list):
        return _merge_list(owned if isinstance(owned, list) else [], patch, schema)
    return patch


def _merge_map(owned: dict[str, Any], patch: dict[str, Any], schema: FieldSchema) -> dict[str, Any] | None:
    """Merge a map patch into ``owned`` (modified in place); None when the patch deletes the map."""
    directive = patch.get(PATCH)
    if directive == "replace":
        owned = {}
    elif directive == "delete":
        return None
    elif directive not in (None, "merge"):
        raise PatchError(f"unknown {PATCH} directive {directive!r}")
    _retain_keys(owned, patch)
    for key, values in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            _delete_from_primitive_list(owned, key.removeprefix(DELETE_FROM_PRIMITIVE_LIST), values)
        elif key.startswith("$") and not _known_directive(key):
            raise PatchError(f"unknown strategic merge patch directive {key!r}")
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        merged = None if value is None else _merge_value(owned.get(key), value, schema.child(key))
        if merged is None:
            owned.pop(key, None)
        else:
            owned[key] = merged
    for key, order in patch.items():
        if key.startswith(SET_ELEMENT_ORDER):
            field = key.removeprefix(SET_ELEMENT_ORDER)
            _set_element_order(owned, field, order, schema.child(field))
    return owned


def _known_directive(key: str) -> bool:
    return key in (PATCH, RETAIN_KEYS) or key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST))


def _retain_keys(owned: dict[str, Any], patch: dict[str, Any]) -> None:
    """Apply ``$retainKeys``: drop every key of ``owned`` that the list does not name."""
    if RETAIN_KEYS not in patch:
        return
    keys = patch[RETAIN_KEYS]
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise PatchError(f"{RETAIN_KEYS} must be a list of strings")
    unlisted = [k for k, v in patch.items() if v is not None and not k.startswith("$") and k not in keys]
    if unlisted:
        raise PatchError(f"{RETAIN_KEYS} {keys} does not name the patched fields {unlisted}")
    for key in [k for k in owned if k not in keys]:
        del owned[key]


def _delete_from_primitive_list(owned: dict[str, Any], field: str, values: Any) -> None:
    if not isinstance(values, list):
        raise PatchError(f"{DELETE_FROM_PRIMITIVE_LIST}{field} must be a list")
    current = owned.get(field)
    if isinstance(current, list):
        owned[field] = [v for v in current if v not in values]


def _merge_list(owned: list[Any], patch: list[Any], schema: FieldSchema) -> list[Any]:
    """Merge a list patch into ``owned`` (modified in place) following the field's patch strategy."""
    item_schema = schema.item()
    key = schema.patch_merge_key
    merging = "merge" in schema.patch_strategy
    regular: list[Any] = []
    replace = False
    for item in patch:
        directive = item.get(PATCH) if isinstance(item, dict) else None
        if directive == "replace":
            replace = True
        elif directive == "delete":
            if merging:
                owned = _delete_items(owned, key, item)
        elif item is not None:
            regular.append(item)  # a "$patch: merge" item merges as usual
    if replace or not merging:
        return [v for v in (_merge_value(None, item, item_schema) for item in regular) if v is not None]
    for item in regular:
        if isinstance(item, dict) and key is not None:
            _merge_keyed_item(owned, key, item, item_schema)
        elif (value := _merge_value(None, item, item_schema)) not in owned:
            owned.append(value)
    return owned


def _delete_items(owned: list[Any], key: str | None, item: dict[str, Any]) -> list[Any]:
    """``owned`` without the items whose merge key equals the ``$patch: delete`` item's."""
    if key is None or key not in item:
        raise PatchError(f"a {PATCH}: delete list item needs the list's merge key: {item}")
    return [x for x in owned if not (isinstance(x, dict) and x.get(key) == item[key])]


def _merge_keyed_item(owned: list[Any], key: str, item: dict[str, Any], schema: FieldSchema) -> None:
    """Merge ``item`` into the element of ``owned`` with the same merge key, or append it."""
    if key not in item:
        raise PatchError(f"list item {item} lacks the merge key {key!r}")
    for index, existing in enumerate(owned):
        if isinstance(existing, dict) and existing.get(key) == item[key]:
            merged = _merge_map(existing, item, schema)
            if merged is None:
                del owned[index]
            else:
                owned[index] = merged
            return
    merged = _merge_map({}, item, schema)
    if merged is not None:
        owned.append(merged)


def _set_element_order(owned: dict[str, Any], field: str, order: Any, schema: FieldSchema) -> None:
    """Reorder the merged list ``owned[field]``: items ``order`` names first, in that order, then the rest."""
    if not isinstance(order, list):
        raise PatchError(f"{SET_ELEMENT_ORDER}{field} must be a list")
    current = owned.get(field)
    if not isinstance(current, list) or "merge" not in schema.patch_strategy:
        return
    key = schema.patch_merge_key

    def identity(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    wanted = [identity(o) for o in order]

    def position(item: Any) -> int:
        ident = identity(item)
        return wanted.index(ident) if ident in wanted else len(wanted)

    owned[field] = sorted(current, key=position)
