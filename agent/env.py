"""A container's environment and command line, built as the kubelet builds them (pure).

Environment: a small base (`PATH`, `HOSTNAME`, `HOME`) the way an image would provide it, overridden by
`env[]` in order; a `value` may use `$(VAR)` to refer to `env[]` variables defined before it, and
`valueFrom.fieldRef` reads the pod. The command line is `command + args`, or `args` alone when no `command`
is given (there is no image entrypoint to prepend), each word expanded against the `env[]` variables.

`$(VAR)` follows Kubernetes: an undefined variable is left as written, `$$` is a literal `$`, and `$`
before anything else is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.views import ContainerSpec, PodSpecView

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


class ContainerConfigError(Exception):
    """The container's environment or command cannot be built (status `CreateContainerConfigError`)."""


@dataclass(frozen=True)
class PodContext:
    """Node facts the pod sees. Containers share the host network, so the pod IP is the host IP."""

    node_name: str
    host_ip: str

    @property
    def pod_ip(self) -> str:
        """The pod's IP: the host's, as with hostNetwork."""
        return self.host_ip


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Expand `$(VAR)` references in `text` with Kubernetes' rules."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 == n:
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(" and (close := text.find(")", i + 2)) != -1:
            name = text[i + 2 : close]
            out.append(variables.get(name, f"$({name})"))
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def base_env(pod: PodSpecView) -> dict[str, str]:
    """What an image and the container runtime would provide; `env[]` overrides it."""
    return {"PATH": DEFAULT_PATH, "HOSTNAME": pod.hostname, "HOME": "/root"}


def container_env(pod: PodSpecView, spec: ContainerSpec, ctx: PodContext) -> dict[str, str]:
    """The variables `env[]` defines; ContainerConfigError for what the agent cannot provide."""
    for source in spec.env_from:
        kind = next((key for key in source if key != "prefix"), "envFrom")
        if not (source.get(kind) or {}).get("optional"):
            raise ContainerConfigError(f"envFrom {kind} is not supported by the miniplane agent")
    defined: dict[str, str] = {}
    for item in spec.env:
        name = item["name"]
        if "valueFrom" in item:
            value = _value_from(pod, ctx, item["valueFrom"], name)
            if value is None:
                continue
        else:
            value = expand(str(item.get("value") or ""), defined)
        defined[name] = value
    return defined


def command_line(spec: ContainerSpec, defined: Mapping[str, str]) -> list[str]:
    """`command + args` (or `args` alone) expanded with `env[]`; ContainerConfigError when empty."""
    words = [expand(word, defined) for word in (*spec.command, *spec.args)]
    if not words:
        raise ContainerConfigError(f"container {spec.name!r} has neither command nor args (no image entrypoint)")
    return words


def _value_from(pod: PodSpecView, ctx: PodContext, source: Mapping[str, Any], name: str) -> str | None:
    if "fieldRef" in source:
        return field_value(pod, ctx, source["fieldRef"]["fieldPath"])
    kind = next(iter(source), "valueFrom")
    if (source.get(kind) or {}).get("optional"):
        return None
    raise ContainerConfigError(f"env {name!r}: {kind} is not supported by the miniplane agent")


def field_value(pod: PodSpecView, ctx: PodContext, path: str) -> str:
    """The value of a downward-API `fieldRef.fieldPath`."""
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": pod.node_name or ctx.node_name,
        "spec.serviceAccountName": pod.service_account,
        "status.podIP": ctx.pod_ip,
        "status.podIPs": ctx.pod_ip,
        "status.hostIP": ctx.host_ip,
        "status.hostIPs": ctx.host_ip,
    }
    if path in simple:
        return simple[path]
    match = _SUBSCRIPT.match(path)
    if match:
        source = pod.labels if match.group(1) == "labels" else pod.annotations
        return (source or {}).get(match.group(2), "")
    raise ContainerConfigError(f"unsupported fieldRef.fieldPath {path!r}")
