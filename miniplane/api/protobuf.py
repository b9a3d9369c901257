"""Decode the two protobuf request bodies kubectl sends (kubectl-wire.md §6).

``kubectl create namespace`` posts a protobuf ``Namespace`` and an eviction-less ``drain`` sends a
protobuf ``DeleteOptions``. Both come wrapped in the ``k8s\\0`` + ``runtime.Unknown`` envelope. This
walker decodes only the fields those bodies use; any other kind raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAGIC = b"k8s\x00"

_META_STRINGS = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
_META_MAPS = {11: "labels", 12: "annotations"}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field number, value) pairs: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated field")
            yield number, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ValueError("expected a string field")
    return value.decode()


def _metadata(buf: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for number, value in _fields(buf):
        if number in _META_STRINGS and _text(value):
            meta[_META_STRINGS[number]] = _text(value)
        elif number in _META_MAPS and isinstance(value, bytes):
            entry = dict(_fields(value))
            meta.setdefault(_META_MAPS[number], {})[_text(entry.get(1, b""))] = _text(entry.get(2, b""))
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _delete_options(buf: bytes) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for number, value in _fields(buf):
        if number == 1 and isinstance(value, int):
            opts["gracePeriodSeconds"] = value
        elif number == 3 and isinstance(value, int):
            opts["orphanDependents"] = bool(value)
        elif number == 4:
            opts["propagationPolicy"] = _text(value)
        elif number == 5:
            opts.setdefault("dryRun", []).append(_text(value))
    return opts


def decode(body: bytes) -> dict[str, Any]:
    """Decode a protobuf ``Namespace`` or ``DeleteOptions`` body into its JSON form."""
    if not body.startswith(MAGIC):
        raise ValueError("protobuf body lacks the k8s envelope")
    api_version = kind = ""
    raw = b""
    for number, value in _fields(body[len(MAGIC) :]):
        if number == 1 and isinstance(value, bytes):
            type_meta = dict(_fields(value))
            api_version, kind = _text(type_meta.get(1, b"")), _text(type_meta.get(2, b""))
        elif number == 2 and isinstance(value, bytes):
            raw = value
    if kind == "DeleteOptions":
        return {"kind": kind, "apiVersion": api_version, **_delete_options(raw)}
    if kind == "Namespace":
        obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version, "metadata": {}}
        for number, value in _fields(raw):
            if number == 1 and isinstance(value, bytes):
                obj["metadata"] = _metadata(value)
        return obj
    raise ValueError(f"protobuf bodies are accepted only for Namespace and DeleteOptions, not {kind or 'unknown'}")
