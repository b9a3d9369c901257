"""The field-selector values each resource offers, as the real apiserver defines them (pure).

Every kind offers ``metadata.name`` and ``metadata.namespace`` (``""`` when cluster-scoped); some
kinds add their own (pods: ``spec.nodeName``, ``status.phase``, ...). Booleans read ``"true"`` or
``"false"``, missing strings read ``""``. The API layer answers ``field label not supported: X``
for names outside ``SUPPORTED_FIELDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miniplane.resources.registry import RESOURCES

Getter = Callable[[Mapping[str, Any]], str]


def _lookup(obj: Mapping[str, Any], steps: tuple[str, ...]) -> Any:
    value: Any = obj
    for step in steps:
        if not isinstance(value, dict) and not isinstance(value, Mapping):  # the quick test first: objects are dicts
            return None
        value = value.get(step)
    return value


def _text(path: str) -> Getter:
    """The string at a dotted path, ``""`` when a step is missing or the value is not a string."""
    steps = tuple(path.split("."))

    def get(obj: Mapping[str, Any]) -> str:
        value = _lookup(obj, steps)
        return value if isinstance(value, str) else ""

    return get


def _flag(path: str) -> Getter:
    """``"true"`` when the boolean at a dotted path is set, else ``"false"``."""
    steps = tuple(path.split("."))
    return lambda obj: "true" if _lookup(obj, steps) is True else "false"


_METADATA: dict[str, Getter] = {f: _text(f) for f in ("metadata.name", "metadata.namespace")}

_KIND_FIELDS: dict[str, dict[str, Getter]] = {
    "pods": {
        **{
            f: _text(f)
            for f in (
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            )
        },
        "spec.hostNetwork": _flag("spec.hostNetwork"),
    },
    "nodes": {"spec.unschedulable": _flag("spec.unschedulable")},
    "namespaces": {"status.phase": _text("status.phase")},
    "events": {
        **{
            f"involvedObject.{f}": _text(f"involvedObject.{f}")
            for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
        },
        "reason": _text("reason"),
        "type": _text("type"),
        "source": _text("source.component"),
        "reportingComponent": _text("reportingComponent"),
    },
}

METADATA_FIELDS = frozenset(_METADATA)

SUPPORTED_FIELDS: dict[str, frozenset[str]] = {
    r.key: METADATA_FIELDS | _KIND_FIELDS.get(r.key, {}).keys() for r in RESOURCES
}


def selectable_fields(resource: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """Field-selector values of ``obj``, one of ``resource`` (the store name, e.g. ``pods``)."""
    getters = _KIND_FIELDS.get(resource)
    fields = {name: get(obj) for name, get in _METADATA.items()}
    if getters is not None:
        fields.update((name, get(obj)) for name, get in getters.items())
    return fields
