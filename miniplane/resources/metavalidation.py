"""Validation of what every object shares: metadata, labels, annotations, label selectors.

Field paths and messages follow apimachinery (``ValidateObjectMeta``, ``ValidateLabels``,
``ValidateAnnotations``, ``ValidateLabelSelector``) and the core wrappers that add the
"standard finalizer name" rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miniplane.resources import formats
from miniplane.resources.causes import (
    Cause,
    forbidden,
    go_owner_references,
    go_string_slice,
    immutable,
    invalid,
    mapping,
    non_negative,
    required,
    seq,
    text,
    too_long,
)

NameCheck = Callable[[str, bool], list[str]]

ANNOTATIONS_SIZE_LIMIT = 256 * 1024
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def label_map(values: Any, path: str) -> list[Cause]:
    """Keys are qualified names, values label values; every problem is reported on ``path`` itself."""
    causes: list[Cause] = []
    for key, value in mapping(values).items():
        causes += label_name(key, path)
        causes += [invalid(path, value, msg) for msg in formats.label_value(text(value))]
    return causes


def label_name(name: str, path: str) -> list[Cause]:
    return [invalid(path, name, msg) for msg in formats.qualified_name(name)]


def annotation_map(values: Any, path: str) -> list[Cause]:
    """Keys are qualified names (case-insensitive); keys and values together hold at most 256 KiB."""
    items = mapping(values)
    causes = [invalid(path, key, msg) for key in items for msg in formats.qualified_name(key.lower())]
    size = sum(len(k.encode()) + len(text(v).encode()) for k, v in items.items())
    if size > ANNOTATIONS_SIZE_LIMIT:
        causes.append(too_long(path, ANNOTATIONS_SIZE_LIMIT))
    return causes


def label_selector(selector: Any, path: str) -> list[Cause]:
    """``matchLabels`` as labels; each ``matchExpressions`` entry's operator, key and values."""
    sel = mapping(selector)
    causes = label_map(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(seq(sel.get("matchExpressions"))):
        causes += _selector_requirement(mapping(expr), f"{path}.matchExpressions[{i}]")
    return causes


def _selector_requirement(expr: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    operator, values = expr.get("operator"), seq(expr.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            causes.append(
                forbidden(f"{path}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            )
    else:
        causes.append(invalid(f"{path}.operator", operator or "", "not a valid selector operator"))
    causes += label_name(text(expr.get("key")), f"{path}.key")
    for i, value in enumerate(values):
        causes += [invalid(f"{path}.values[{i}]", value, msg) for msg in formats.label_value(text(value))]
    return causes


def object_meta(meta: Mapping[str, Any], *, namespaced: bool, name_check: NameCheck, core: bool = True) -> list[Cause]:
    """``ValidateObjectMeta`` on create; ``core`` adds the core group's finalizer-name rule."""
    causes: list[Cause] = []
    generate_name, name, namespace = (
        text(meta.get("generateName")),
        text(meta.get("name")),
        text(meta.get("namespace")),
    )
    if generate_name:
        causes += [invalid("metadata.generateName", generate_name, m) for m in name_check(generate_name, True)]
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    else:
        causes += [invalid("metadata.name", name, m) for m in name_check(name, False)]
    if namespaced and not namespace:
        causes.append(required("metadata.namespace"))
    elif namespaced:
        causes += [invalid("metadata.namespace", namespace, m) for m in formats.name_is_dns_label(namespace, False)]
    elif namespace:
        causes.append(forbidden("metadata.namespace", "not allowed on this type"))
    causes += non_negative("metadata.generation", meta.get("generation"))
    causes += _common_meta(meta, core)
    return causes


def object_meta_update(meta: Mapping[str, Any], old_meta: Mapping[str, Any], core: bool = True) -> list[Cause]:
    """``ValidateObjectMetaUpdate``: name, namespace and uid never change; the rest revalidated."""
    causes: list[Cause] = []
    for key in ("name", "namespace", "uid"):
        new, old = text(meta.get(key)), text(old_meta.get(key))
        if new != old and (new or key != "uid"):
            causes.append(immutable(f"metadata.{key}", new))
    if any(meta.get(key) != old_meta.get(key) for key in _COMMON_META):
        causes += _common_meta(meta, core)  # unchanged (heartbeats, status writes): it passed when stored
    return causes


_COMMON_META = ("labels", "annotations", "ownerReferences", "finalizers")  # what ``_common_meta`` reads


def _common_meta(meta: Mapping[str, Any], core: bool) -> list[Cause]:
    causes = label_map(meta.get("labels"), "metadata.labels")
    causes += annotation_map(meta.get("annotations"), "metadata.annotations")
    causes += _owner_references(seq(meta.get("ownerReferences")))
    causes += _finalizers([text(f) for f in seq(meta.get("finalizers"))], core)
    return causes


def _owner_references(refs: list[Any]) -> list[Cause]:
    causes: list[Cause] = []
    path = "metadata.ownerReferences"
    controllers: list[str] = []
    for ref in (mapping(r) for r in refs):
        api_version = text(ref.get("apiVersion"))
        if not api_version.rpartition("/")[2]:
            causes.append(invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        for key in ("kind", "name", "uid"):
            if not text(ref.get(key)):
                causes.append(invalid(f"{path}.{key}", "", "must not be empty"))
        if ref.get("controller") is True:
            controllers.append(f"{text(ref.get('kind'))}/{text(ref.get('name'))}")
    if len(controllers) > 1:
        detail = (
            'Only one reference can have Controller set to true. Found "true" in references for '
            f"{controllers[0]} and {controllers[1]}"
        )
        causes.append(invalid(path, go_owner_references(refs), detail))
    return causes


def _finalizers(finalizers: list[str], core: bool) -> list[Cause]:
    path = "metadata.finalizers"
    causes = [invalid(path, f, msg) for f in finalizers for msg in formats.qualified_name(f)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        causes.append(
            invalid(
                path,
                go_string_slice(finalizers),
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    if core:
        for i, finalizer in enumerate(finalizers):
            causes += kube_finalizer_name(finalizer, f"{path}[{i}]")
    return causes


def kube_finalizer_name(finalizer: str, path: str) -> list[Cause]:
    """An unqualified finalizer must be one of the standard ones."""
    if "/" in finalizer or finalizer in STANDARD_FINALIZERS:
        return []
    return [invalid(path, finalizer, "name is neither a standard finalizer name nor is it fully qualified")]


def semantic(value: Any) -> Any:
    """The value without nulls and empty maps or lists, which Kubernetes' semantic equality ignores."""
    if isinstance(value, Mapping):
        pruned = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value
