"""Unknown-field and JSON-type checks of request bodies, for ``fieldValidation``.

The apiserver decodes a body into Go structs. A value of the wrong JSON type fails the request
(400, ``json: cannot unmarshal ...``) whatever ``fieldValidation`` says; unknown fields are, under
``Strict``, a 400 listing them all, under ``Warn`` one 299 ``Warning`` header each, and under
``Ignore`` dropped silently. miniplane walks the parsed body alongside the kind's 1.37 schema
instead. Each definition is compiled once into a ``_Node`` tree, so a walk is plain dict lookups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from miniplane.schema.definitions import REF_PREFIX, Definition, definition_for_kind, definitions

# Findings kept per report, as the apiserver's decoder does (it stops saving strict errors at 100).
MAX_FINDINGS = 100
# Known in every object, as if each struct embedded TypeMeta.
_TYPE_META = frozenset({"apiVersion", "kind"})
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_GO_FORMATS = {"int32": "int32", "int64": "int64", "double": "float64", "byte": "[]uint8"}
_JSON_NAMES: dict[type, str] = {str: "string", list: "array", dict: "object"}
_GO_SCALARS = {"string": "string", "integer": "int64", "number": "float64", "boolean": "bool"}


@dataclass(frozen=True, slots=True)
class FieldReport:
    """What ``check_fields`` found in one object."""

    # Paths as Kubernetes prints them, and ``json: cannot unmarshal …`` messages (the apiserver
    # reports only the first); both in body order, at most MAX_FINDINGS each.
    unknown: list[str] = field(default_factory=list)
    type_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.type_errors


def check_fields(api_version: str, kind: str, obj: Any) -> FieldReport:
    """Unknown fields and JSON type mismatches of ``obj`` against the schema of its kind.

    Kinds without a definition report nothing. ``null`` is accepted everywhere, as Go does.
    """
    report = FieldReport()
    root = _kind_node(api_version, kind)
    if root is not None:
        _Walk(report).value(root, obj, root.struct)
    return report


def prune_unknown(api_version: str, kind: str, obj: Any) -> Any:
    """A copy of ``obj`` without its unknown fields (for ``Warn`` and ``Ignore``).

    Maps and lists the schema describes are copied; values under open schemas are shared.
    """
    return _prune(_kind_node(api_version, kind), obj)


def decode_error_message(kind: str, version: str, detail: str) -> str:
    """The 400 BadRequest message for a body the apiserver could not decode."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}'


def strict_error_message(kind: str, version: str, unknown: Iterable[str]) -> str:
    """``DaemonSet in version "v1" cannot be handled as a DaemonSet: strict decoding error: …``."""
    fields = ", ".join(f'unknown field "{path}"' for path in unknown)
    return decode_error_message(kind, version, f"strict decoding error: {fields}")


def warning_headers(unknown: Iterable[str]) -> list[str]:
    """``Warning`` header values for ``fieldValidation=Warn``: ``299 - "unknown field \\"spec.foo\\""``."""
    return ["299 - " + _quote(f'unknown field "{path}"') for path in unknown]


def _quote(text: str) -> str:
    """A Go-style quoted string that is safe in an HTTP header (ASCII, no control characters)."""
    return json.dumps(text).replace("\x7f", "\\u007f")


class _Node:
    """A compiled schema position."""

    __slots__ = ("go_type", "struct", "types", "fields", "open", "values", "items")

    def __init__(self, go_type: str = "") -> None:
        self.go_type = go_type  # named in type errors: int32, []v1.Container, map[string]string
        self.struct = ""  # Go struct name, when this is a struct
        self.types: tuple[type, ...] | None = None  # Python types a value may have; None: any
        self.fields: dict[str, _Node] | None = None  # struct fields
        self.open = True  # whether keys outside ``fields`` are allowed
        self.values: _Node | None = None  # map values
        self.items: _Node | None = None  # list items


_compiled: dict[str, _Node] = {}


def _kind_node(api_version: str, kind: str) -> _Node | None:
    name = definition_for_kind(api_version, kind)
    return _definition_node(name) if name else None


def _definition_node(name: str) -> _Node:
    """The compiled node of a definition; registered before its fields so cycles terminate."""
    node = _compiled.get(name)
    if node is None:
        package, _, short = name.rpartition(".")
        node = _compiled[name] = _Node(f"{package.rpartition('.')[2]}.{short}")
        _fill(node, definitions()[name])
        if node.fields is not None:
            node.struct = short
    return node


def _node(schema: Definition) -> _Node:
    """The node of a property, item or map-value schema (a ``$ref`` or inline)."""
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", ())) == 1:
        ref = schema["allOf"][0].get("$ref")
    if isinstance(ref, str):
        return _definition_node(ref.removeprefix(REF_PREFIX))
    node = _Node()
    _fill(node, schema)
    return node


def _fill(node: _Node, schema: Definition) -> None:
    alternatives = schema.get("oneOf", [schema])
    names = [t for alt in alternatives for t in _type_names(alt)]
    if names:
        node.types = tuple({t for name in names for t in _PY_TYPES[name]})
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    items = schema.get("items")
    if props is not None:
        node.fields = {key: _node(prop) for key, prop in props.items()}
        node.open = extra is not False
    if isinstance(extra, dict):
        node.values = _node(extra)
    if isinstance(items, dict):
        node.items = _node(items)
    if not node.go_type:
        node.go_type = _go_type(node, names[0] if len(names) == 1 else "", schema.get("format"))


def _type_names(schema: Definition) -> list[str]:
    types = schema.get("type", [])
    return [t for t in ([types] if isinstance(types, str) else types) if t != "null"]


def _go_type(node: _Node, json_type: str, fmt: str | None) -> str:
    """The Go type of an inline schema, as type errors name it."""
    if fmt in _GO_FORMATS:
        return _GO_FORMATS[fmt]
    if node.items is not None:
        return "[]" + node.items.go_type
    if node.values is not None:
        return "map[string]" + node.values.go_type
    return _GO_SCALARS.get(json_type, "interface {}")


class _Walk:
    """One walk of an object alongside its schema, collecting into a report."""

    __slots__ = ("report", "path", "fields")

    def __init__(self, report: FieldReport) -> None:
        self.report = report
        self.path: list[str | int] = []  # keys and list indices from the root
        self.fields: list[str] = []  # the struct fields among them (Go's error context)

    def value(self, node: _Node, value: Any, struct: str) -> None:
        """Check ``value`` at ``node``; ``struct`` is the Go struct holding the current field."""
        if value is None:
            return
        kind = type(value)
        if node.types is not None and kind not in node.types:
            self._type_error(node, value, struct)
        elif kind is dict:
            if node.fields is not None:
                self._struct(node, node.fields, value)
            elif node.values is not None:
                for key, sub in value.items():
                    self.path.append(key)
                    self.value(node.values, sub, struct)
                    self.path.pop()
        elif kind is list and node.items is not None:
            for index, sub in enumerate(value):
                self.path.append(index)
                self.value(node.items, sub, struct)
                self.path.pop()

    def _struct(self, node: _Node, fields: dict[str, _Node], value: dict[str, Any]) -> None:
        for key, sub in value.items():
            child = fields.get(key)
            if child is None:
                unknown = self.report.unknown
                if not node.open and key not in _TYPE_META and len(unknown) < MAX_FINDINGS:
                    unknown.append(_format_path([*self.path, key]))
                continue
            self.path.append(key)
            self.fields.append(key)
            self.value(child, sub, node.struct)
            self.path.pop()
            self.fields.pop()

    def _type_error(self, node: _Node, value: Any, struct: str) -> None:
        if len(self.report.type_errors) >= MAX_FINDINGS:
            return
        target = f"Go struct field {struct}.{'.'.join(self.fields)}" if self.fields else "Go value"
        got = _describe(value, node)
        self.report.type_errors.append(f"json: cannot unmarshal {got} into {target} of type {node.go_type}")


def _describe(value: Any, node: _Node) -> str:
    """How Go names a mismatched JSON value: ``string``, ``bool``, ``number``, ``number 1.5``, …"""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float) and node.types is not None and int in node.types:
        return f"number {value!r}"  # a fraction where an integer belongs
    if isinstance(value, int | float):
        return "number"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _format_path(path: list[str | int]) -> str:
    """``spec.template.spec.containers[0].bogus``."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else segment
    return out


def _prune(node: _Node | None, value: Any) -> Any:
    if node is None:
        return value
    if type(value) is dict:
        if node.fields is not None:
            fields = node.fields
            return {
                key: _prune(fields.get(key), sub)
                for key, sub in value.items()
                if key in fields or node.open or key in _TYPE_META
            }
        if node.values is not None:
            return {key: _prune(node.values, sub) for key, sub in value.items()}
    elif type(value) is list and node.items is not None:
        return [_prune(node.items, sub) for sub in value]
    return value
