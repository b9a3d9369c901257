"""DaemonSet and ControllerRevision rows."""

from __future__ import annotations

from datetime import datetime

from miniplane.resources.printers.common import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Cell,
    Obj,
    Printer,
    column,
    container_cells,
    format_label_selector,
    format_labels,
    items,
    section,
)
from miniplane.resources.printers.duration import since

_DAEMONSET_COUNTS = (
    ("Desired", "desiredNumberScheduled", "The number of nodes that should be running the daemon pod."),
    ("Current", "currentNumberScheduled", "The number of nodes running at least one daemon pod that should."),
    ("Ready", "numberReady", "The number of nodes that should run the daemon pod and have one Ready."),
    ("Up-to-date", "updatedNumberScheduled", "The number of nodes running the updated daemon pod."),
    (
        "Available",
        "numberAvailable",
        "The number of nodes that should run the daemon pod and have one available.",
    ),
)

DAEMONSET_COLUMNS = (
    NAME,
    *(column(name, description, "integer") for name, _, description in _DAEMONSET_COUNTS),
    column("Node Selector", "The pod template's nodeSelector."),
    AGE,
    CONTAINERS,
    IMAGES,
    column("Selector", "A label query over pods that are managed by the daemon set.", wide=True),
)

CONTROLLER_REVISION_COLUMNS = (
    NAME,
    column("Controller", "Controller of the object"),
    column("Revision", "Revision indicates the revision of the state represented by Data.", "integer"),
    AGE,
)


def _daemonset_cells(ds: Obj, now: datetime) -> list[Cell]:
    meta, spec, status = section(ds, "metadata"), section(ds, "spec"), section(ds, "status")
    pod_spec = section(section(spec, "template"), "spec")
    return [
        meta.get("name", ""),
        *(int(status.get(field) or 0) for _, field, _ in _DAEMONSET_COUNTS),
        format_labels(pod_spec.get("nodeSelector")),
        since(meta.get("creationTimestamp"), now),
        *container_cells(pod_spec),
        format_label_selector(spec.get("selector")),
    ]


def controller_name(meta: Obj) -> str:
    """The controlling owner as ``kind.group/name`` (``daemonset.apps/x``), or ``<none>``."""
    owner = next((o for o in items(meta, "ownerReferences") if o.get("controller")), None)
    if owner is None:
        return "<none>"
    api_version = owner.get("apiVersion", "")
    group = api_version.split("/")[0] if "/" in api_version else ""
    kind = owner.get("kind", "").lower()
    return f"{kind}.{group}/{owner.get('name', '')}" if group else f"{kind}/{owner.get('name', '')}"


def _controller_revision_cells(revision: Obj, now: datetime) -> list[Cell]:
    meta = section(revision, "metadata")
    return [
        meta.get("name", ""),
        controller_name(meta),
        int(revision.get("revision") or 0),
        since(meta.get("creationTimestamp"), now),
    ]


DAEMONSET = Printer(DAEMONSET_COLUMNS, _daemonset_cells)
CONTROLLER_REVISION = Printer(CONTROLLER_REVISION_COLUMNS, _controller_revision_cells)
