"""The core/v1 Event row, as ``kubectl get events`` shows it.

LAST SEEN is the plain age of ``lastTimestamp`` (else ``firstTimestamp``/``eventTime``, or
``series.lastObservedTime``); the repeat count has its own wide COUNT column. The ``5m (x3 over 10m)``
form belongs to ``kubectl describe`` and ``kubectl events``, which compute it client-side.
"""

from __future__ import annotations

from datetime import datetime

from miniplane.resources.printers.common import NAME, Cell, Obj, Printer, column, section
from miniplane.resources.printers.duration import since

COLUMNS = (
    column("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    column("Type", "Type of this event (Normal, Warning)."),
    column("Reason", "A short, machine understandable string giving the reason for this event."),
    column("Object", "The object this event is about."),
    column("Subobject", "The part of the object this event is about (fieldPath).", wide=True),
    column("Source", "The component reporting this event.", wide=True),
    column("Message", "A human-readable description of the status of this operation."),
    column("First Seen", "The time at which the event was first recorded.", wide=True),
    column("Count", "The number of times this event has occurred.", "integer", wide=True),
    column(NAME["name"], NAME["description"], fmt="name", wide=True),
)


def _object(involved: Obj) -> str:
    kind = involved.get("kind", "").lower()
    return f"{kind}/{involved['name']}" if involved.get("name") else kind


def _source(event: Obj) -> str:
    source = section(event, "source")
    component = source.get("component") or event.get("reportingController") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _cells(event: Obj, now: datetime) -> list[Cell]:
    first_seen = since(event.get("firstTimestamp") or event.get("eventTime"), now)
    last_seen = since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first_seen
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series:
        last_seen = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # events.k8s.io singletons carry no count
    return [
        last_seen,
        event.get("type", ""),
        event.get("reason", ""),
        _object(section(event, "involvedObject")),
        section(event, "involvedObject").get("fieldPath", ""),
        _source(event),
        str(event.get("message", "")).strip(),
        first_seen,
        count,
        section(event, "metadata").get("name", ""),
    ]


PRINTER = Printer(COLUMNS, _cells)
