"""Server-side printing: ``meta.k8s.io/v1`` Tables for ``Accept: ...;as=Table;v=v1;g=meta.k8s.io``.

kubectl prints the cells verbatim, so every age, READY and STATUS is computed here (see
``miniplane.resources.printers``). Rows always carry every column, wide ones included, as the
apiserver does; kubectl hides priority-1 columns unless ``-o wide``. ``table_rows`` and
``column_definitions`` let a watch stream send one-row Tables without rebuilding the whole response.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from miniplane.resources.printers import event, meta, node, pod, workloads
from miniplane.resources.printers.common import Column, Obj, Printer
from miniplane.resources.printers.duration import human_duration

__all__ = ["INCLUDE_OBJECT_VALUES", "column_definitions", "human_duration", "table", "table_rows"]

INCLUDE_OBJECT_VALUES = ("None", "Metadata", "Object")

_PRINTERS: dict[str, Printer] = {
    "ControllerRevision": workloads.CONTROLLER_REVISION,
    "DaemonSet": workloads.DAEMONSET,
    "Event": event.PRINTER,
    "Lease": meta.LEASE,
    "Namespace": meta.NAMESPACE,
    "Node": node.PRINTER,
    "Pod": pod.PRINTER,
}


def _printer(kind: str) -> Printer:
    return _PRINTERS.get(kind, meta.DEFAULT)


def column_definitions(kind: str) -> list[Column]:
    """The Table's ``columnDefinitions`` for ``kind`` (Name and Created At for kinds without a printer)."""
    return [Column(**c) for c in _printer(kind).columns]


def _row_object(obj: Obj, include_object: str) -> dict[str, Any] | None:
    if include_object == "Object":
        return dict(obj)
    if include_object == "Metadata":
        metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    return None


def table_rows(kind: str, objs: Sequence[Obj], now: datetime, include_object: str = "Metadata") -> list[dict[str, Any]]:
    """One ``{"cells": [...], "object": ...}`` row per object (no ``object`` for ``include_object="None"``).

    ``now`` must be timezone-aware. Raises ``ValueError`` for an ``include_object`` other than
    ``None``/``Metadata``/``Object`` (the apiserver answers 400 to such a request).
    """
    if include_object not in INCLUDE_OBJECT_VALUES:
        raise ValueError(f"includeObject must be one of {', '.join(INCLUDE_OBJECT_VALUES)}, not {include_object!r}")
    cells = _printer(kind).cells
    rows: list[dict[str, Any]] = []
    for obj in objs:
        row: dict[str, Any] = {"cells": cells(obj, now)}
        included = _row_object(obj, include_object)
        if included is not None:
            row["object"] = included
        rows.append(row)
    return rows


def table(
    kind: str,
    objs: Sequence[Obj],
    now: datetime,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
) -> dict[str, Any]:
    """The full Table; ``resource_version`` and ``continue_token`` are the list's (omitted when empty).

    kubectl watches from the Table's ``resourceVersion`` (``get -w``) and pages with its ``continue``
    (``get --chunk-size``), so pass both through from the list.
    """
    list_meta = {"resourceVersion": resource_version, "continue": continue_token}
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {k: v for k, v in list_meta.items() if v},
        "columnDefinitions": column_definitions(kind),
        "rows": table_rows(kind, objs, now, include_object),
    }
