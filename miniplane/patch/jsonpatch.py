"""RFC 6902 JSON patch (``application/json-patch+json``).

Operations apply in order to a copy of the target, so a failing operation leaves the target
untouched. Every failure raises ``PatchError`` with code 422, naming the operation.
"""

from __future__ import annotations

import re
from typing import Any

from miniplane.patch._json import clone, json_equal
from miniplane.patch.errors import PatchError

_INDEX = re.compile(r"0|[1-9][0-9]*")


def json_patch(target: Any, ops: list[Any]) -> Any:
    """``target`` with the operations ``ops`` applied in order; ``target`` is not modified."""
    doc = clone(target)
    for number, op in enumerate(ops):
        try:
            doc = _apply(doc, op)
        except PatchError as e:
            where = f"{op.get('op')} {op.get('path')}" if isinstance(op, dict) else repr(op)
            raise PatchError(f"json patch operation {number} ({where}): {e.message}", 422) from None
    return doc


def _apply(doc: Any, op: Any) -> Any:
    """Apply one operation to ``doc`` (owned, may be modified) and return the new document."""
    if not isinstance(op, dict):
        raise PatchError("an operation must be an object")
    path = _pointer(op, "path")
    match op.get("op"):
        case "add":
            return _add(doc, path, clone(_value(op)))
        case "remove":
            return _remove(doc, path)
        case "replace":
            return _replace(doc, path, clone(_value(op)))
        case "move":
            source = _pointer(op, "from")
            if path[: len(source)] == source and len(path) > len(source):
                raise PatchError("cannot move a value into one of its own children")
            value = _get(doc, source)
            return _add(_remove(doc, source), path, value)
        case "copy":
            return _add(doc, path, clone(_get(doc, _pointer(op, "from"))))
        case "test":
            if not json_equal(_get(doc, path), _value(op)):
                raise PatchError("test failed: the value differs")
            return doc
        case other:
            raise PatchError(f"unknown operation {other!r}")


def _value(op: dict[str, Any]) -> Any:
    if "value" not in op:
        raise PatchError('missing "value"')
    return op["value"]


def _pointer(op: dict[str, Any], member: str) -> list[str]:
    """The reference tokens of the JSON pointer in ``op[member]``."""
    pointer = op.get(member)
    if not isinstance(pointer, str):
        raise PatchError(f'missing or non-string "{member}"')
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer {pointer!r} must start with '/'")
    tokens = pointer[1:].split("/")
    if any(re.search(r"~(?![01])", token) for token in tokens):
        raise PatchError(f"JSON pointer {pointer!r} has an invalid '~' escape")
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def _index(token: str, size: int, *, insert: bool) -> int:
    """The list index named by ``token``; ``-`` and ``size`` only when inserting."""
    if insert and token == "-":
        return size
    if not _INDEX.fullmatch(token):
        raise PatchError(f"{token!r} is not a list index")
    index = int(token)
    if index > size or (index == size and not insert):
        raise PatchError(f"index {index} is out of range (list length {size})")
    return index


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError(f"path does not exist: no key {token!r}")
        return node[token]
    if isinstance(node, list):
        return node[_index(token, len(node), insert=False)]
    raise PatchError(f"path does not exist: cannot look up {token!r} in a scalar")


def _get(doc: Any, path: list[str]) -> Any:
    for token in path:
        doc = _child(doc, token)
    return doc


def _add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), insert=True), value)
    else:
        raise PatchError(f"cannot add {last!r} to a scalar")
    return doc


def _replace(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    _child(parent, path[-1])
    parent[path[-1] if isinstance(parent, dict) else int(path[-1])] = value
    return doc


def _remove(doc: Any, path: list[str]) -> Any:
    if not path:
        raise PatchError("cannot remove the whole document")
    parent = _get(doc, path[:-1])
    _child(parent, path[-1])
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        del parent[int(path[-1])]
    return doc
