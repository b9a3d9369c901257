"""Node selection (pure): ``nodeSelector`` plus the required node affinity, as the scheduler matches it.

Used by the DaemonSet predicate (``daemon.py``) and the scheduler's NodeAffinity filter (``fit.py``).

- ``nodeSelectorTerms`` are ORed; inside a term ``matchExpressions`` and ``matchFields`` are ANDed.
- An empty term list, or a term without requirements, matches nothing.
- A term that does not parse (wrong value count, unknown operator, a non-integer ``Gt``/``Lt``
  value) is dropped: it matches nothing, and the other terms still count (Kubernetes' "lazy error"
  selector, whose error the DaemonSet controller ignores).
- ``matchFields`` knows only ``metadata.name``, with ``In``/``NotIn`` and exactly one value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = range(-(2**63), 2**63)

Requirement = Callable[[Mapping[str, str]], bool]


def matches_node_selector(node_selector: Mapping[str, str] | None, node: Mapping[str, Any]) -> bool:
    """``spec.nodeSelector``: every key=value must equal a node label."""
    labels = _labels(node)
    return all(labels.get(k) == v for k, v in (node_selector or {}).items())


def matches_node_selector_terms(selector: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A ``NodeSelector`` (``{nodeSelectorTerms: [...]}``): any parsable, non-empty term matches."""
    labels = _labels(node)
    fields = {"metadata.name": (node.get("metadata") or {}).get("name") or ""}
    for term in selector.get("nodeSelectorTerms") or []:
        requirements = _parse_term(term)
        if requirements and all(r(fields if kind == "field" else labels) for kind, r in requirements):
            return True
    return False


def required_node_affinity(pod_spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`` or None."""
    node_affinity = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    return node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")


def matches_pod_node_affinity(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """``nodeSelector`` AND required node affinity of a pod spec (preferred terms are ignored)."""
    if not matches_node_selector(pod_spec.get("nodeSelector"), node):
        return False
    required = required_node_affinity(pod_spec)
    return required is None or matches_node_selector_terms(required, node)


def _labels(node: Mapping[str, Any]) -> Mapping[str, str]:
    return (node.get("metadata") or {}).get("labels") or {}


def _parse_term(term: Mapping[str, Any]) -> list[tuple[str, Requirement]] | None:
    """The term's requirements tagged ``label``/``field``; None when it is empty or invalid."""
    parsed: list[tuple[str, Requirement]] = []
    for kind, key in (("label", "matchExpressions"), ("field", "matchFields")):
        for expr in term.get(key) or []:
            requirement = _parse_requirement(expr, fields=kind == "field")
            if requirement is None:
                return None
            parsed.append((kind, requirement))
    return parsed or None


def _parse_requirement(expr: Mapping[str, Any], *, fields: bool) -> Requirement | None:
    key = expr.get("key") or ""
    operator = expr.get("operator")
    values: Sequence[str] = expr.get("values") or []
    if fields:
        if len(values) != 1 or operator not in ("In", "NotIn"):
            return None
        return lambda f: (f.get(key, "") == values[0]) == (operator == "In")
    if operator in ("In", "NotIn"):
        if not values:
            return None
        allowed = frozenset(values)
        if operator == "In":
            return lambda labels: key in labels and labels[key] in allowed
        return lambda labels: key not in labels or labels[key] not in allowed
    if operator in ("Exists", "DoesNotExist"):
        if values:
            return None
        return lambda labels: (key in labels) == (operator == "Exists")
    if operator in ("Gt", "Lt"):
        bound = _parse_int(values[0]) if len(values) == 1 else None
        if bound is None:
            return None
        return lambda labels: _compare(labels.get(key), operator, bound)
    return None


def _compare(value: str | None, operator: str, bound: int) -> bool:
    number = _parse_int(value) if value is not None else None
    if number is None:
        return False
    return number > bound if operator == "Gt" else number < bound


def _parse_int(text: str) -> int | None:
    """Go ``strconv.ParseInt(s, 10, 64)``: optional sign, decimal digits, int64 range."""
    if not _INT.fullmatch(text):
        return None
    number = int(text)
    return number if number in _INT64 else None
