"""What a node's last will changes (pure): the grace-period path's conditions and taints, at once.

When the broker publishes a node's will, its agent's connection is gone (crash, kill, or a network
cut noticed after 1.5 × keepalive). The node gets what ``plan_node`` gives a node whose heartbeats
are overdue — Ready, MemoryPressure, DiskPressure and PIDPressure ``Unknown``, then the
``unreachable`` NoSchedule and NoExecute taints — with a reason that says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from miniplane.controllers.nodelifecycle.plan import desired_taints, unknown_conditions, with_changes

REASON = "NodeConnectionLost"
MESSAGE = "The agent's MQTT connection was lost (the broker published its last will)."
SILENT = "The agent's MQTT connection was lost (nothing arrived for 1.5 x its keepalive)."


@dataclass(frozen=True, slots=True)
class NodeUpdate:
    """The node's new ``status.conditions`` and ``spec.taints`` (None: leave the taints as they are)."""

    conditions: list[dict[str, Any]]
    taints: list[dict[str, Any]] | None


def connection_lost(node: Mapping[str, Any], now: datetime, message: str = MESSAGE) -> NodeUpdate | None:
    """The update for a node whose agent's connection was lost; None if its conditions are Unknown already."""
    before = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    conditions = unknown_conditions(node, now)
    if conditions is None:
        return None
    for condition in conditions:
        kind = condition.get("type")
        if kind in before and before[kind] != "Unknown" and condition.get("status") == "Unknown":
            condition.update(reason=REASON, message=message)
    current = {**node, "status": {**(node.get("status") or {}), "conditions": conditions}}
    return NodeUpdate(conditions, desired_taints(current, now))


def apply(node: dict[str, Any], update: NodeUpdate) -> dict[str, Any]:
    """``node`` (modified in place) with the update's conditions and taints."""
    return with_changes(node, update.conditions, update.taints)
