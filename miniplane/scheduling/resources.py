"""NodeResourcesFit (pure): pod requests against node allocatable minus what bound pods request.

Used by ``fit.py``. Requests follow Kubernetes' ``PodRequests``: the sum over containers (plus
sidecars, i.e. init containers with ``restartPolicy: Always``), at least the largest regular init
container (plus the sidecars started before it), plus ``overhead``; pod-level ``spec.resources``
requests replace the container sum for the resources they name. A container limit without a request
counts as the request, as API defaulting makes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from miniplane.resources.quantity import parse_quantity

_NATIVE = ("cpu", "memory", "ephemeral-storage")
_NOT_SCALAR = frozenset({*_NATIVE, "pods", "storage"})

Requests = dict[str, Fraction]


def pod_requests(spec: Mapping[str, Any]) -> Requests:
    """What the pod requests, by resource name (exact values)."""
    total: Requests = {}
    sidecars: Requests = {}
    init_peak: Requests = {}
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            _add(sidecars, requests)
        else:
            _max(init_peak, _plus(requests, sidecars))
    for container in spec.get("containers") or []:
        _add(total, _container_requests(container))
    _add(total, sidecars)
    _max(total, init_peak)
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    total.update({k: parse_quantity(v) for k, v in pod_level.items() if k in ("cpu", "memory")})
    _add(total, {k: parse_quantity(v) for k, v in (spec.get("overhead") or {}).items()})
    return total


def insufficient(spec: Mapping[str, Any], node: Mapping[str, Any], bound: Iterable[Mapping[str, Any]]) -> list[str]:
    """NodeResourcesFit reasons (``Too many pods``, ``Insufficient cpu``, ...); empty when it fits."""
    bound = list(bound)
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    reasons: list[str] = []
    if len(bound) + 1 > _scaled("pods", allocatable.get("pods", 0)):
        reasons.append("Too many pods")
    wanted = {k: _round(k, v) for k, v in pod_requests(spec).items() if v}
    used: dict[str, int] = {}
    for pod in bound:
        for name, value in pod_requests(pod.get("spec") or {}).items():
            used[name] = used.get(name, 0) + _round(name, value)
    scalars = sorted(k for k in wanted if k not in _NOT_SCALAR)
    for name in [*(k for k in _NATIVE if k in wanted), *scalars]:
        free = _scaled(name, allocatable.get(name, 0)) - used.get(name, 0)
        if wanted[name] > free:
            reasons.append(f"Insufficient {name}")
    return reasons


def _container_requests(container: Mapping[str, Any]) -> Requests:
    resources = container.get("resources") or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {k: parse_quantity(v) for k, v in merged.items()}


def _scaled(name: str, value: str | int | float) -> int:
    return _round(name, parse_quantity(value))


def _round(name: str, value: Fraction) -> int:
    """Milli-units for cpu, whole units otherwise; rounded up, as ``MilliValue``/``Value`` do."""
    return math.ceil(value * 1000) if name == "cpu" else math.ceil(value)


def _plus(a: Requests, b: Requests) -> Requests:
    result = dict(a)
    _add(result, b)
    return result


def _add(into: Requests, other: Mapping[str, Fraction]) -> None:
    for name, value in other.items():
        into[name] = into.get(name, Fraction(0)) + value


def _max(into: Requests, other: Mapping[str, Fraction]) -> None:
    for name, value in other.items():
        into[name] = max(into.get(name, Fraction(0)), value)
