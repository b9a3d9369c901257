"""Kubernetes 1.37 type definitions, read from the ``kubernetes-validate`` package.

The package ships the upstream OpenAPI definitions as JSON Schema (``_definitions.json``): 862
types with their properties, ``x-kubernetes-group-version-kind``, patch strategies and merge keys.
miniplane uses it for three things: the OpenAPI v3 documents kubectl reads, strict unknown-field
detection, and the strategic-merge-patch list semantics. This module only loads and walks it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import kubernetes_validate
import orjson

SCHEMA_VERSION = "v1.37.0-local-strict"
REF_PREFIX = "#/$defs/"

Definition = dict[str, Any]


@functools.cache
def definitions() -> dict[str, Definition]:
    """All definitions by name (``io.k8s.api.apps.v1.DaemonSet``)."""
    path = os.path.join(
        os.path.dirname(kubernetes_validate.__file__),
        "kubernetes-json-schema",
        SCHEMA_VERSION,
        "_definitions.json",
    )
    with open(path, "rb") as f:
        defs: dict[str, Definition] = orjson.loads(f.read())["$defs"]
    return defs


@functools.cache
def definition_for_kind(api_version: str, kind: str) -> str | None:
    """The definition name of a top-level kind (``apps/v1``, ``DaemonSet``), or None."""
    group, _, version = api_version.rpartition("/")
    for name, d in definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind", ()):
            if gvk.get("group", "") == group and gvk["version"] == version and gvk["kind"] == kind:
                return name
    return None


def resolve(schema: Definition | None) -> Definition | None:
    """Follow a ``$ref`` (also one wrapped in ``allOf``) to the referenced definition."""
    while schema is not None:
        ref = schema.get("$ref")
        if ref is None and len(schema.get("allOf", ())) == 1:
            ref = schema["allOf"][0].get("$ref")
        if ref is None:
            return schema
        schema = definitions().get(ref.removeprefix(REF_PREFIX))
    return None


@dataclass(frozen=True, slots=True)
class FieldSchema:
    """A position in a kind's schema while walking an object alongside it."""

    schema: Definition | None  # resolved; None = unknown (anything goes)

    def child(self, key: str) -> FieldSchema:
        """The schema of map key ``key`` (a property, or ``additionalProperties``)."""
        s = self.schema
        if s is None:
            return FieldSchema(None)
        props = s.get("properties")
        if props is not None and key in props:
            prop = props[key]
            resolved = resolve(prop)
            extensions = {k: v for k, v in prop.items() if k.startswith("x-kubernetes-patch")}
            if resolved is not prop and resolved is not None and extensions:
                resolved = {**resolved, **extensions}
            return FieldSchema(resolved)
        extra = s.get("additionalProperties")
        if isinstance(extra, dict):
            return FieldSchema(resolve(extra))
        return FieldSchema(None)

    def item(self) -> FieldSchema:
        """The schema of the items of a list."""
        s = self.schema
        if s is None or "items" not in s:
            return FieldSchema(None)
        return FieldSchema(resolve(s["items"]))

    @property
    def patch_strategy(self) -> str:
        """``merge``, ``retainKeys``, ``merge,retainKeys`` or ``""`` (replace)."""
        return str(self.schema.get("x-kubernetes-patch-strategy", "")) if self.schema else ""

    @property
    def patch_merge_key(self) -> str | None:
        return self.schema.get("x-kubernetes-patch-merge-key") if self.schema else None

    def has_property(self, key: str) -> bool:
        """Whether ``key`` is a known field here (always true where the schema is open)."""
        s = self.schema
        if s is None:
            return True
        extra = s.get("additionalProperties")
        if "properties" not in s:
            return extra is not False
        return key in s["properties"] or extra not in (None, False)


def kind_schema(api_version: str, kind: str) -> FieldSchema:
    """The root FieldSchema of a kind (open schema if the kind is unknown)."""
    name = definition_for_kind(api_version, kind)
    return FieldSchema(definitions()[name] if name else None)
