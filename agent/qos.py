"""A pod's QoS class from its containers' requests and limits (pure), as `status.qosClass` shows it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

from agent.views import ContainerSpec
from miniplane.resources.quantity import parse_quantity

_COMPUTE = ("cpu", "memory")


def qos_class(containers: Iterable[ContainerSpec]) -> str:
    """`Guaranteed` when every container limits cpu and memory with requests equal to limits (or unset),
    `BestEffort` when no container requests or limits either (zero values do not count), else `Burstable`."""
    guaranteed, any_set = True, False
    for spec in containers:
        requests, limits = spec.requests or {}, spec.limits or {}
        for resource in _COMPUTE:
            request, limit = _positive(requests, resource), _positive(limits, resource)
            any_set = any_set or request is not None or limit is not None
            if limit is None or (request is not None and request != limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _positive(values: Mapping[str, str], resource: str) -> Fraction | None:
    text = values.get(resource)
    value = parse_quantity(text) if text is not None else None
    return value if value else None
