"""Small frozen views of the pod fields the agent acts on, parsed from pod dicts.

`PodSpecView.from_pod` is the one place that reads raw pod JSON; `sync`, `status`, the runtimes and the
probes work on these views only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_GRACE_SECONDS = 30.0
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class VolumeMount:
    """One `volumeMounts[]` entry."""

    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""


@dataclass(frozen=True)
class ContainerSpec:
    """The parts of one container (or init container) the agent uses."""

    name: str
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[Mapping[str, Any], ...] = ()
    env_from: tuple[Mapping[str, Any], ...] = ()
    working_dir: str = ""
    volume_mounts: tuple[VolumeMount, ...] = ()
    requests: Mapping[str, str] | None = None
    limits: Mapping[str, str] | None = None
    ports: Mapping[str, int] | None = None  # named container ports, for probes
    startup_probe: Mapping[str, Any] | None = None
    readiness_probe: Mapping[str, Any] | None = None
    liveness_probe: Mapping[str, Any] | None = None
    pre_stop: Mapping[str, Any] | None = None  # lifecycle.preStop
    run_as_user: int | None = None
    run_as_group: int | None = None
    init: bool = False

    @property
    def probes(self) -> dict[str, Mapping[str, Any]]:
        """The probes this container defines, by kind (`startup`, `readiness`, `liveness`)."""
        found = {
            "startup": self.startup_probe,
            "readiness": self.readiness_probe,
            "liveness": self.liveness_probe,
        }
        return {kind: probe for kind, probe in found.items() if probe}


@dataclass(frozen=True)
class PodSpecView:
    """A pod bound to this node, as the agent needs it."""

    uid: str
    name: str
    namespace: str = "default"
    node_name: str = ""
    containers: tuple[ContainerSpec, ...] = ()
    init_containers: tuple[ContainerSpec, ...] = ()
    restart_policy: str = "Always"
    grace_period: float = DEFAULT_GRACE_SECONDS  # deletionGracePeriodSeconds, else terminationGracePeriodSeconds
    deletion_timestamp: str | None = None
    volumes: Mapping[str, Mapping[str, Any]] | None = None  # by volume name
    hostname: str = ""
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None
    service_account: str = ""
    readiness_gates: tuple[str, ...] = ()
    phase: str = ""  # status.phase as last written to the API

    @property
    def terminating(self) -> bool:
        """True once the pod has a deletionTimestamp."""
        return self.deletion_timestamp is not None

    @property
    def terminal(self) -> bool:
        """True when the API already holds a terminal phase: never restart anything."""
        return self.phase in TERMINAL_PHASES

    @property
    def all_containers(self) -> tuple[ContainerSpec, ...]:
        """Init containers first, then app containers."""
        return self.init_containers + self.containers

    def container(self, name: str) -> ContainerSpec:
        """The (init) container called `name`; KeyError when absent."""
        for spec in self.all_containers:
            if spec.name == name:
                return spec
        raise KeyError(f"pod {self.namespace}/{self.name} has no container {name!r}")

    @classmethod
    def from_pod(cls, pod: Mapping[str, Any]) -> PodSpecView:
        """Parse a pod dict as served by the API."""
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        pod_security = spec.get("securityContext") or {}
        return cls(
            uid=meta["uid"],
            name=meta["name"],
            namespace=meta.get("namespace") or "default",
            node_name=spec.get("nodeName") or "",
            containers=tuple(_container(c, pod_security, init=False) for c in spec.get("containers") or ()),
            init_containers=tuple(_container(c, pod_security, init=True) for c in spec.get("initContainers") or ()),
            restart_policy=spec.get("restartPolicy") or "Always",
            grace_period=float(grace),
            deletion_timestamp=meta.get("deletionTimestamp"),
            volumes={v["name"]: v for v in spec.get("volumes") or ()},
            hostname=spec.get("hostname") or meta["name"],
            labels=meta.get("labels") or {},
            annotations=meta.get("annotations") or {},
            service_account=spec.get("serviceAccountName") or "",
            readiness_gates=tuple(g["conditionType"] for g in spec.get("readinessGates") or ()),
            phase=(pod.get("status") or {}).get("phase") or "",
        )


def _container(raw: Mapping[str, Any], pod_security: Mapping[str, Any], *, init: bool) -> ContainerSpec:
    resources = raw.get("resources") or {}
    security = {**pod_security, **(raw.get("securityContext") or {})}
    return ContainerSpec(
        name=raw["name"],
        image=raw.get("image") or "",
        command=tuple(raw.get("command") or ()),
        args=tuple(raw.get("args") or ()),
        env=tuple(raw.get("env") or ()),
        env_from=tuple(raw.get("envFrom") or ()),
        working_dir=raw.get("workingDir") or "",
        volume_mounts=tuple(
            VolumeMount(m["name"], m["mountPath"], bool(m.get("readOnly")), m.get("subPath") or "")
            for m in raw.get("volumeMounts") or ()
        ),
        requests={k: str(v) for k, v in (resources.get("requests") or {}).items()},
        limits={k: str(v) for k, v in (resources.get("limits") or {}).items()},
        ports={p["name"]: int(p["containerPort"]) for p in raw.get("ports") or () if p.get("name")},
        startup_probe=raw.get("startupProbe"),
        readiness_probe=raw.get("readinessProbe"),
        liveness_probe=raw.get("livenessProbe"),
        pre_stop=(raw.get("lifecycle") or {}).get("preStop"),
        run_as_user=security.get("runAsUser"),
        run_as_group=security.get("runAsGroup"),
        init=init,
    )
