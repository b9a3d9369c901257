"""The four Kubernetes patch types, as pure functions over JSON values.

    apply_patch(content_type, target, body, schema)   dispatch on the PATCH Content-Type
    ├── strategic_merge_patch      application/strategic-merge-patch+json  (strategic.py)
    ├── json_merge_patch           application/merge-patch+json            (merge.py, RFC 7386)
    └── json_patch                 application/json-patch+json             (jsonpatch.py, RFC 6902)
    server_side_apply              application/apply-patch+yaml            (apply.py, an approximation)

Nothing here modifies its arguments or does I/O. Errors: ``PatchError`` (``.code`` 400 or 422) and
``UnsupportedPatchType`` (415), see ``errors.py``.
"""

from __future__ import annotations

from typing import Any

import orjson

from miniplane.patch.apply import server_side_apply
from miniplane.patch.errors import PatchError, UnsupportedPatchType
from miniplane.patch.jsonpatch import json_patch
from miniplane.patch.merge import json_merge_patch
from miniplane.patch.strategic import strategic_merge_patch
from miniplane.schema.definitions import FieldSchema

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "PatchError",
    "UnsupportedPatchType",
    "apply_patch",
    "json_merge_patch",
    "json_patch",
    "server_side_apply",
    "strategic_merge_patch",
]

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def apply_patch(
    content_type: str, target: dict[str, Any], body: bytes | dict[str, Any] | list[Any], schema: FieldSchema
) -> dict[str, Any]:
    """``target`` patched with ``body`` (raw JSON bytes or decoded) according to ``content_type``.

    ``content_type`` may carry parameters (``; charset=utf-8``). Server-side apply is not handled here
    (``server_side_apply``): its media type raises ``UnsupportedPatchType`` like any other.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in (STRATEGIC_MERGE_PATCH, MERGE_PATCH, JSON_PATCH):
        raise UnsupportedPatchType(content_type)
    patch = _decode(body) if isinstance(body, bytes) else body
    if media_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("a JSON patch must be a list of operations")
        result = json_patch(target, patch)
    elif media_type == MERGE_PATCH:
        result = json_merge_patch(target, patch)
    else:
        if not isinstance(patch, dict):
            raise PatchError("a strategic merge patch must be a JSON object")
        result = strategic_merge_patch(target, patch, schema)
    if not isinstance(result, dict):
        raise PatchError("the patched object is not a JSON object", 422)
    return result


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise PatchError(f"error decoding patch: {e}") from None
