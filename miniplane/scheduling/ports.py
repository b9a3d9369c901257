"""NodePorts (pure): does a pod's ``hostPort`` clash with one already used on the node?

Used by ``fit.py``. A host port is (hostIP, protocol, port); ``hostIP`` defaults to ``0.0.0.0``
(every address) and protocol to TCP. Two ports clash when protocol and port are equal and either
address is ``0.0.0.0`` or both are the same. Ports of containers and of sidecar init containers count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

_ANY = "0.0.0.0"

HostPort = tuple[str, str, int]  # (ip, protocol, port)


def host_ports(spec: Mapping[str, Any]) -> Iterator[HostPort]:
    """The host ports a pod spec asks for."""
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in [*(spec.get("containers") or []), *sidecars]:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                yield (port.get("hostIP") or _ANY, port.get("protocol") or "TCP", int(port["hostPort"]))


def ports_clash(spec: Mapping[str, Any], bound: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any host port of the pod is already taken by one of the bound pods."""
    wanted = list(host_ports(spec))
    if not wanted:
        return False
    used = [p for pod in bound for p in host_ports(pod.get("spec") or {})]
    return any(_clash(w, u) for w in wanted for u in used)


def _clash(a: HostPort, b: HostPort) -> bool:
    return a[1:] == b[1:] and (_ANY in (a[0], b[0]) or a[0] == b[0])
