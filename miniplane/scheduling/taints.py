"""Taints and tolerations (pure), as ``k8s.io/api/core/v1`` and ``component-helpers`` match them.

Used by the DaemonSet predicate (``daemon.py``) and by the scheduler filters (``fit.py``). Taints
and tolerations are the plain dicts of the API (``{key, value, effect}``, ``{key, operator, value,
effect, tolerationSeconds}``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
SCHEDULING_EFFECTS = frozenset({NO_SCHEDULE, NO_EXECUTE})  # what placement looks at

Taint = Mapping[str, Any]
Toleration = Mapping[str, Any]


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Whether one toleration tolerates one taint (``tolerationSeconds`` plays no part).

    The effect must be empty or equal; an empty key matches every key; operator ``Exists`` matches
    any value, ``Equal`` (also when omitted) needs equal values; any other operator matches nothing.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(taint: Taint, tolerations: Iterable[Toleration]) -> bool:
    """Whether any of the tolerations tolerates the taint."""
    return any(tolerates(t, taint) for t in tolerations)


def first_untolerated(
    taints: Iterable[Taint], tolerations: Iterable[Toleration], effects: Collection[str]
) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates, or None."""
    tolerations = list(tolerations)
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(taint, tolerations):
            return taint
    return None


def node_taints(node: Mapping[str, Any]) -> list[Taint]:
    """``spec.taints`` of a node (empty when unset)."""
    return list((node.get("spec") or {}).get("taints") or [])
