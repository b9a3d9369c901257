"""What every printer shares: the column type, the ``Printer`` record and Kubernetes' label formatting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

Cell = str | int
Obj = Mapping[str, Any]


class Column(TypedDict):
    """A ``meta.k8s.io/v1`` TableColumnDefinition."""

    name: str
    type: str
    format: str
    description: str
    priority: int


def column(name: str, description: str, type_: str = "string", *, fmt: str = "", wide: bool = False) -> Column:
    """A column; ``wide`` ones (priority 1) show only with ``-o wide``."""
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": int(wide)}


NAME = column("Name", "Name must be unique within a namespace.", fmt="name")
AGE = column("Age", "CreationTimestamp is the server time when this object was created.")
CONTAINERS = column("Containers", "Names of each container in the template.", wide=True)
IMAGES = column("Images", "Images referenced by each container in the template.", wide=True)


@dataclass(frozen=True, slots=True)
class Printer:
    """The columns of one kind and the function computing a row's cells (one per column, same order)."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, datetime], list[Cell]]


def section(obj: Obj, key: str) -> Obj:
    """``obj[key]`` as a mapping, ``{}`` when absent or null."""
    return obj.get(key) or {}


def items(obj: Obj, key: str) -> list[Obj]:
    """``obj[key]`` as a list, ``[]`` when absent or null."""
    return obj.get(key) or []


def format_labels(labels: Mapping[str, str] | None) -> str:
    """``a=1,b=2`` sorted by key, or ``<none>`` (labels.FormatLabels)."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels)) if labels else "<none>"


_OPERATORS = {
    "In": "{key} in ({values})",
    "NotIn": "{key} notin ({values})",
    "Exists": "{key}",
    "DoesNotExist": "!{key}",
}


def format_label_selector(selector: Obj | None) -> str:
    """A LabelSelector in selector syntax (``app=x,tier in (a,b)``); ``<none>`` when it selects by nothing.

    An unknown operator makes the whole selector ``<error>``, as metav1.FormatLabelSelector does.
    """
    requirements = [(k, f"{k}={v}") for k, v in section(selector or {}, "matchLabels").items()]
    for expr in items(selector or {}, "matchExpressions"):
        template = _OPERATORS.get(expr.get("operator", ""))
        if template is None:
            return "<error>"
        key = expr.get("key", "")
        requirements.append((key, template.format(key=key, values=",".join(sorted(expr.get("values") or [])))))
    requirements.sort(key=lambda r: r[0])
    return ",".join(text for _, text in requirements) or "<none>"


def container_cells(pod_spec: Obj) -> list[Cell]:
    """The Containers and Images cells: names and images, comma-separated, in spec order."""
    containers = items(pod_spec, "containers")
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]
