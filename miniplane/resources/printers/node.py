"""The Node row: STATUS from the Ready condition and ``spec.unschedulable``, ROLES from labels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from miniplane.resources.printers.common import AGE, NAME, Cell, Obj, Printer, column, items, section
from miniplane.resources.printers.duration import since

COLUMNS = (
    NAME,
    column("Status", "The status of the node"),
    column("Roles", "The roles of the node"),
    AGE,
    column("Version", "Kubelet version reported by the node."),
    column("Internal-IP", "The node's first InternalIP address.", wide=True),
    column("External-IP", "The node's first ExternalIP address.", wide=True),
    column("OS-Image", "OS image reported by the node.", wide=True),
    column("Kernel-Version", "Kernel version reported by the node.", wide=True),
    column("Container-Runtime", "Container runtime version reported by the node.", wide=True),
)

ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"


def node_status(node: Obj) -> str:
    """``Ready``, ``NotReady`` (Ready condition False or Unknown), ``Unknown`` (no Ready condition), plus
    ``,SchedulingDisabled`` when cordoned."""
    conditions = {c.get("type"): c for c in items(section(node, "status"), "conditions")}  # last one wins
    ready = conditions.get("Ready")
    parts = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if section(node, "spec").get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(labels: Mapping[str, str]) -> list[str]:
    """Sorted roles from ``node-role.kubernetes.io/<role>`` keys and the ``kubernetes.io/role`` value."""
    roles = {k.removeprefix(ROLE_LABEL_PREFIX) for k in labels if k.startswith(ROLE_LABEL_PREFIX)}
    roles.add(labels.get(ROLE_LABEL, ""))
    return sorted(r for r in roles if r)


def _address(status: Obj, address_type: str) -> str:
    found = (a.get("address", "") for a in items(status, "addresses") if a.get("type") == address_type)
    return next(found, "<none>")


def _cells(node: Obj, now: datetime) -> list[Cell]:
    meta, status = section(node, "metadata"), section(node, "status")
    info = section(status, "nodeInfo")
    return [
        meta.get("name", ""),
        node_status(node),
        ",".join(node_roles(section(meta, "labels"))) or "<none>",
        since(meta.get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        _address(status, "InternalIP"),
        _address(status, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


PRINTER = Printer(COLUMNS, _cells)
