"""The Node object an agent registers and the status it reports (pure builders, no I/O).

What the kubelet writes: labels ``kubernetes.io/hostname|os|arch`` (and the ``beta.`` twins),
taints from the command line, capacity and allocatable measured from the host (or given),
addresses, the four conditions with heartbeat and transition times, nodeInfo and
daemonEndpoints (the port the server uses for logs and exec).
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass, field
from typing import Any

from miniplane.timeutil import rfc3339, utcnow

AGENT_VERSION = "v1.37.0-miniplane"

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}

# type: (status, reason, message) when healthy
_HEALTHY = {
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """What the command line says about this node."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    capacity: dict[str, str] = field(default_factory=dict)  # overrides/extra resources (nvidia.com/gpu=1)
    address: str = "127.0.0.1"
    port: int = 0  # the agent endpoint (logs, exec)


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` → dict; raises ValueError on a malformed item."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"label {item!r} is not key=value")
        out[key] = value
    return out


def parse_taints(text: str) -> list[dict[str, str]]:
    """``k=v:Effect,k:Effect`` → taint dicts; raises ValueError on a malformed item."""
    taints = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        head, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"taint {item!r} is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
        key, _, value = head.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return taints


def host_capacity() -> dict[str, str]:
    """CPU, memory, pods and ephemeral storage of this host, as Kubernetes quantities."""
    memory_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory_kib = int(line.split()[1])
                    break
    except OSError:
        pass
    try:
        stat = os.statvfs("/")
        storage_kib = stat.f_blocks * stat.f_frsize // 1024
    except OSError:
        storage_kib = 0
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_kib}Ki",
        "pods": "110",
        "ephemeral-storage": f"{storage_kib}Ki",
    }


def node_info() -> dict[str, str]:
    """``status.nodeInfo``: all ten fields, strings."""
    uname = platform.uname()
    machine_id = _read_first("/etc/machine-id")
    return {
        "architecture": _ARCH.get(uname.machine, uname.machine),
        "bootID": _read_first("/proc/sys/kernel/random/boot_id"),
        "containerRuntimeVersion": "miniplane://process",
        "kernelVersion": uname.release,
        "kubeProxyVersion": "",
        "kubeletVersion": AGENT_VERSION,
        "machineID": machine_id,
        "operatingSystem": uname.system.lower(),
        "osImage": _os_image(),
        "systemUUID": machine_id,
    }


def _read_first(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def conditions(previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Healthy conditions with a fresh heartbeat; transition times kept when the status is unchanged."""
    now = rfc3339(utcnow())
    before = {c.get("type"): c for c in previous or []}
    out = []
    for kind, (status, reason, message) in _HEALTHY.items():
        old = before.get(kind, {})
        transition = old.get("lastTransitionTime") if old.get("status") == status else None
        out.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": transition or now,
            }
        )
    return out


def node_status(config: NodeConfig, previous: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Node ``status`` the agent reports."""
    capacity = {**host_capacity(), **config.capacity}
    return {
        "capacity": capacity,
        "allocatable": dict(capacity),
        "addresses": [
            {"type": "InternalIP", "address": config.address},
            {"type": "Hostname", "address": config.name},
        ],
        "conditions": conditions(previous),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.port}},
        "nodeInfo": node_info(),
    }


def node_object(config: NodeConfig) -> dict[str, Any]:
    """The Node to register."""
    info = node_info()
    labels = {
        "kubernetes.io/hostname": config.name,
        "kubernetes.io/os": info["operatingSystem"],
        "kubernetes.io/arch": info["architecture"],
        "beta.kubernetes.io/os": info["operatingSystem"],
        "beta.kubernetes.io/arch": info["architecture"],
        **config.labels,
    }
    spec: dict[str, Any] = {}
    if config.taints:
        spec["taints"] = config.taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": config.name, "labels": labels},
        "spec": spec,
        "status": node_status(config),
    }


def default_address() -> str:
    """The address the host's name resolves to (no traffic), or loopback."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
