"""Validation causes as the API server reports them, and bad values rendered the way Go prints them.

A cause is one ``details.causes`` entry of a 422 ``Status``. Its message follows apimachinery's
``field.Error.ErrorBody``::

    Required value[: detail]                 Forbidden: detail
    Invalid value: <value>: detail           Duplicate value: <value>[: detail]
    Unsupported value: <value>: supported values: "A", "B"
    Not found: <value>                       Too long: may not be more than N bytes

``<value>`` is Go's rendering of the offending value: strings quoted as ``%q``, numbers and
booleans bare, maps as ``map[string]string{"a":"b"}``, types with a ``String()`` method through it.
Callers pass plain Python values, or a ``GoText`` already rendered by one of the helpers here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict


class Cause(TypedDict):
    """One ``details.causes`` entry: ``reason`` is the ``FieldValue*`` type, ``field`` the JSON path."""

    reason: str
    field: str
    message: str


class GoText(str):
    """A value already rendered as Go prints it; used verbatim in messages."""


def required(path: str, detail: str = "") -> Cause:
    return _cause("FieldValueRequired", path, _with_detail("Required value", detail))


def invalid(path: str, value: Any, detail: str) -> Cause:
    return _cause("FieldValueInvalid", path, _with_detail(f"Invalid value: {go_value(value)}", detail))


def immutable(path: str, value: Any) -> Cause:
    return invalid(path, value, "field is immutable")


def not_supported(path: str, value: Any, supported: Sequence[str]) -> Cause:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported) if supported else ""
    return _cause("FieldValueNotSupported", path, _with_detail(f"Unsupported value: {go_value(value)}", detail))


def forbidden(path: str, detail: str) -> Cause:
    return _cause("FieldValueForbidden", path, _with_detail("Forbidden", detail))


def duplicate(path: str, value: Any, detail: str = "") -> Cause:
    return _cause("FieldValueDuplicate", path, _with_detail(f"Duplicate value: {go_value(value)}", detail))


def not_found(path: str, value: Any) -> Cause:
    return _cause("FieldValueNotFound", path, f"Not found: {go_value(value)}")


def too_long(path: str, limit: int) -> Cause:
    return _cause("FieldValueTooLong", path, f"Too long: may not be more than {limit} bytes")


def non_negative(path: str, value: Any) -> list[Cause]:
    """``ValidateNonnegativeField``: ints below zero are invalid."""
    if _is_int(value) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


# ---- Go renderings ---------------------------------------------------------------------------


def go_value(value: Any) -> str:
    """A plain value as ``field.Error`` prints it (strings ``%q``, scalars ``%v``, ``null`` for nil)."""
    if isinstance(value, GoText):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        return go_string_map(value)
    return str(value)


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: escapes, ``\\xNN``/``\\uNNNN`` for non-printable characters."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_string_map(labels: Any) -> GoText:
    """``%#v`` of a ``map[string]string`` (keys sorted): ``map[string]string{"a":"1", "b":"2"}``."""
    if not isinstance(labels, Mapping):
        return GoText("map[string]string(nil)")
    pairs = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(labels.items()))
    return GoText(f"map[string]string{{{pairs}}}")


def go_string_slice(values: Sequence[str]) -> GoText:
    """``%#v`` of a ``[]string``: ``[]string{"a", "b"}``."""
    return GoText("[]string{" + ", ".join(go_quote(v) for v in values) + "}")


def go_label_selector(selector: Any) -> GoText:
    """``(*metav1.LabelSelector).String()``, as printed for an invalid or changed ``spec.selector``."""
    sel = mapping(selector)
    labels = mapping(sel.get("matchLabels"))
    pairs = "".join(f"{k}: {v}," for k, v in sorted(labels.items()))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(str(v) for v in seq(e.get('values')))}],}},"
        for e in (mapping(x) for x in seq(sel.get("matchExpressions")))
    )
    return GoText(
        f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def go_owner_references(refs: Sequence[Any]) -> GoText:
    """``%#v`` of ``[]metav1.OwnerReference``; set pointers print as an address (here ``0xc000000000``)."""

    def flag(value: Any) -> str:
        return "(*bool)(nil)" if value is None else "(*bool)(0xc000000000)"

    items = ", ".join(
        f"v1.OwnerReference{{APIVersion:{go_quote(text(r.get('apiVersion')))}, "
        f"Kind:{go_quote(text(r.get('kind')))}, "
        f"Name:{go_quote(text(r.get('name')))}, UID:{go_quote(text(r.get('uid')))}, "
        f"Controller:{flag(r.get('controller'))}, BlockOwnerDeletion:{flag(r.get('blockOwnerDeletion'))}}}"
        for r in (mapping(x) for x in refs)
    )
    return GoText(f"[]v1.OwnerReference{{{items}}}")


def go_raw_extension(data: Any) -> GoText:
    """``(*runtime.RawExtension).String()``: the JSON bytes as Go prints a ``[]byte``."""
    if data is None:
        return GoText("&RawExtension{Raw:nil,}")
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return GoText(f"&RawExtension{{Raw:*[{' '.join(str(b) for b in raw)}],}}")


# ---- loose access to unvalidated input --------------------------------------------------------


def mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a JSON object, else an empty one (type errors are the decoder's business)."""
    return value if isinstance(value, Mapping) else {}


def seq(value: Any) -> list[Any]:
    """The value if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str:
    """The value if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def integer(value: Any) -> int:
    """The value if it is a JSON integer, else 0 (Go's zero value)."""
    return value if _is_int(value) else 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def _cause(reason: str, path: str, message: str) -> Cause:
    return {"reason": reason, "field": path, "message": message}
