"""Rows for kinds shown by name and age only (Namespace, Lease), and the fallback for any other kind."""

from __future__ import annotations

from datetime import datetime

from miniplane.resources.printers.common import AGE, NAME, Cell, Obj, Printer, column, section
from miniplane.resources.printers.duration import since
from miniplane.timeutil import parse_time, rfc3339

_ZERO_TIME = "0001-01-01T00:00:00Z"  # how Go formats an unset time


def _namespace_cells(ns: Obj, now: datetime) -> list[Cell]:
    meta = section(ns, "metadata")
    return [
        meta.get("name", ""),
        section(ns, "status").get("phase", ""),
        since(meta.get("creationTimestamp"), now),
    ]


def _lease_cells(lease: Obj, now: datetime) -> list[Cell]:
    meta = section(lease, "metadata")
    holder = section(lease, "spec").get("holderIdentity") or ""
    return [meta.get("name", ""), holder, since(meta.get("creationTimestamp"), now)]


def _default_cells(obj: Obj, now: datetime) -> list[Cell]:
    meta = section(obj, "metadata")
    created = meta.get("creationTimestamp")
    return [meta.get("name", ""), rfc3339(parse_time(created)) if created else _ZERO_TIME]


NAMESPACE = Printer((NAME, column("Status", "The status of the namespace"), AGE), _namespace_cells)
LEASE = Printer((NAME, column("Holder", "The identity of the holder of the lease."), AGE), _lease_cells)
DEFAULT = Printer((NAME, column("Created At", "The server time when this object was created.", "date")), _default_cells)
