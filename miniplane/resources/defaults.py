"""Defaults the API server fills in before validation, applied in place to plain dicts.

    apply_defaults(kind, obj)

Per kind (apps/v1 and core/v1 defaulters; Lease, Event and ControllerRevision have none):

- DaemonSet: ``updateStrategy`` RollingUpdate with ``maxUnavailable: 1``, ``maxSurge: 0`` (each only
  when absent; nothing under OnDelete), ``revisionHistoryLimit: 10``, and the pod spec defaults for
  its template;
- pod spec (templates and pods): restart/DNS policy, scheduler, grace period, ``securityContext: {}``,
  and per container the pull policy (``Always`` only for a ``latest`` or missing tag), termination
  message path and policy, ``resources: {}``, port protocol, probe numbers, ``httpGet`` path and
  scheme, ``grpc`` service; per volume an ``emptyDir`` when it names no source, file modes ``420``,
  ``hostPath.type: ""``; ``fieldRef.apiVersion: v1``; resource quantities rounded up to milli units
  and written canonically (``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``);
- Pod only: requests copied from limits, ``enableServiceLinks``, ``hostPort = containerPort`` under
  ``hostNetwork``, and what admission adds without needing other objects: ``serviceAccountName``
  ``default`` (no token volume), ``priority`` (0, or the built-in system classes'), ``preemptionPolicy``;
- Node: ``status.allocatable`` copies ``capacity`` when absent;
- Namespace: label ``kubernetes.io/metadata.name``, ``spec.finalizers: [kubernetes]`` when absent,
  ``status.phase: Active`` when absent.

Malformed parts (a string where an object belongs) are left alone for validation to report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from miniplane.resources.quantity import Quantity
from miniplane.resources.volumevalidation import VOLUME_SOURCES

Obj = dict[str, Any]

_POD_SPEC_DEFAULTS = (
    ("dnsPolicy", "ClusterFirst"),
    ("restartPolicy", "Always"),
    ("schedulerName", "default-scheduler"),
)
_PROBE_DEFAULTS = (
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
)
_FILE_MODE = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
_SYSTEM_PRIORITIES = {"": 0, "system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
# Docker reference grammar: [domain[:port]/]path[:tag][@digest]; an unparsable name counts as untagged.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:{_DOMAIN}(?::[0-9]+)?/)?{_PATH}(?:/{_PATH})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)


def apply_defaults(kind: str, obj: Obj) -> None:
    """Fill in ``obj``'s defaults in place (idempotent; unknown kinds are left as they are)."""
    defaulter = _DEFAULTERS.get(kind)
    if defaulter is not None:
        defaulter(obj)


def image_tag(image: str) -> str:
    """The tag the pull policy reads: ``latest`` if neither tag nor digest is given, ``""`` if unparsable."""
    match = _IMAGE.fullmatch(image)
    if match is None:
        return ""
    if match["tag"] is None and match["digest"] is None:
        return "latest"
    return match["tag"] or ""


# ---- kinds ------------------------------------------------------------------------------------


def _daemonset(ds: Obj) -> None:
    spec = _child(ds, "spec")
    if spec is None:
        return
    strategy = _child(spec, "updateStrategy")
    if strategy is not None:
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        rolling = _child(strategy, "rollingUpdate") if strategy["type"] == "RollingUpdate" else None
        if rolling is not None:
            _fill(rolling, "maxUnavailable", 1)
            _fill(rolling, "maxSurge", 0)
    _fill(spec, "revisionHistoryLimit", 10)
    template = _child(spec, "template")
    template_spec = _child(template, "spec") if template is not None else None
    if template_spec is not None:
        _pod_spec(template_spec)


def _pod(pod: Obj) -> None:
    spec = _child(pod, "spec")
    if spec is None:
        return
    _pod_spec(spec)
    containers = [*_items(spec, "containers"), *_items(spec, "initContainers")]
    for container in containers:
        _requests_from_limits(container)
    _fill(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for port in (p for c in containers for p in _items(c, "ports")):
            if not port.get("hostPort"):
                port["hostPort"] = port.get("containerPort")
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    priority_class = spec.get("priorityClassName") or ""
    if spec.get("priority") is None and priority_class in _SYSTEM_PRIORITIES:
        spec["priority"] = _SYSTEM_PRIORITIES[priority_class]
    _fill(spec, "preemptionPolicy", "PreemptLowerPriority")


def _requests_from_limits(container: Obj) -> None:
    """A pod container's missing requests default to its limits."""
    resources = container.get("resources")
    limits = resources.get("limits") if isinstance(resources, dict) else None
    if not isinstance(resources, dict) or not isinstance(limits, dict) or not limits:
        return
    requests = _child(resources, "requests")
    for name, amount in limits.items():
        if requests is not None:
            requests.setdefault(name, amount)


def _node(node: Obj) -> None:
    status = node.get("status")
    if not isinstance(status, dict):
        return
    _canonical_quantities(status.get("capacity"))
    _canonical_quantities(status.get("allocatable"))
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


def _namespace(namespace: Obj) -> None:
    meta = _child(namespace, "metadata")
    name = meta.get("name") if meta is not None else None
    labels = _child(meta, "labels") if meta is not None and isinstance(name, str) and name else None
    if labels is not None:
        labels["kubernetes.io/metadata.name"] = name
    spec = _child(namespace, "spec")
    if spec is not None:
        _fill(spec, "finalizers", ["kubernetes"])
    status = _child(namespace, "status")
    if status is not None and not status.get("phase"):
        status["phase"] = "Active"


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "DaemonSet": _daemonset,
    "Pod": _pod,
    "Node": _node,
    "Namespace": _namespace,
}


# ---- pod spec -------------------------------------------------------------------------------


def _pod_spec(spec: Obj) -> None:
    for key, value in _POD_SPEC_DEFAULTS:
        if not spec.get(key):
            spec[key] = value
    _fill(spec, "securityContext", {})
    _fill(spec, "terminationGracePeriodSeconds", 30)
    if spec.get("serviceAccount") and not spec.get("serviceAccountName"):  # v1 keeps the two in step
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in _items(spec, key):
            _container(container)
    for volume in _items(spec, "volumes"):
        _volume(volume)
    if isinstance(spec.get("resources"), dict):
        _resource_requirements(spec["resources"])
    _canonical_quantities(spec.get("overhead"))


def _container(container: Obj) -> None:
    if not container.get("imagePullPolicy"):
        image = container.get("image")
        latest = isinstance(image, str) and image_tag(image) == "latest"
        container["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    if not container.get("terminationMessagePath"):
        container["terminationMessagePath"] = "/dev/termination-log"
    if not container.get("terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    resources = _child(container, "resources")
    if resources is not None:
        _resource_requirements(resources)
    for port in _items(container, "ports"):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(key)
        if isinstance(probe, dict):
            _probe(probe)
    lifecycle = container.get("lifecycle")
    for hook in (lifecycle.get(k) for k in ("postStart", "preStop")) if isinstance(lifecycle, dict) else ():
        if isinstance(hook, dict):
            _http_get(hook.get("httpGet"))
    for env in _items(container, "env"):
        source = env.get("valueFrom")
        if isinstance(source, dict):
            _field_ref(source.get("fieldRef"))


def _probe(probe: Obj) -> None:
    for key, value in _PROBE_DEFAULTS:
        if not probe.get(key):  # Go's zero value counts as unset
            probe[key] = value
    _http_get(probe.get("httpGet"))
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        _fill(grpc, "service", "")


def _http_get(action: Any) -> None:
    if isinstance(action, dict):
        if not action.get("path"):
            action["path"] = "/"
        if not action.get("scheme"):
            action["scheme"] = "HTTP"


def _field_ref(ref: Any) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _volume(volume: Obj) -> None:
    if all(volume.get(key) is None for key in VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        source = volume.get(key)
        if isinstance(source, dict):
            _fill(source, "defaultMode", _FILE_MODE)
    host_path, empty_dir = volume.get("hostPath"), volume.get("emptyDir")
    if isinstance(host_path, dict):
        _fill(host_path, "type", "")
    if isinstance(empty_dir, dict) and empty_dir.get("sizeLimit") is not None:
        empty_dir["sizeLimit"] = _canonical(empty_dir["sizeLimit"], round_to_milli=False)
    for item in _downward_items(volume):
        _field_ref(item.get("fieldRef"))
    projected = volume.get("projected")
    for source in _items(projected, "sources") if isinstance(projected, dict) else []:
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            _fill(token, "expirationSeconds", 3600)


def _downward_items(volume: Obj) -> list[Obj]:
    """Downward API files of a downwardAPI volume and of a projected volume's sources."""
    sources = [volume.get("downwardAPI")]
    projected = volume.get("projected")
    if isinstance(projected, dict):
        sources += [s.get("downwardAPI") for s in _items(projected, "sources")]
    return [item for source in sources if isinstance(source, dict) for item in _items(source, "items")]


def _resource_requirements(resources: Obj) -> None:
    _canonical_quantities(resources.get("limits"))
    _canonical_quantities(resources.get("requests"))


def _canonical_quantities(amounts: Any) -> None:
    """Round each amount up to milli units and write it canonically; bad ones stay for validation."""
    if isinstance(amounts, dict):
        for name, raw in amounts.items():
            amounts[name] = _canonical(raw, round_to_milli=True)


def _canonical(raw: Any, *, round_to_milli: bool) -> Any:
    if isinstance(raw, str):  # remembered: every node reports the same few capacities on each status write
        return _canonical_text(raw, round_to_milli)
    return _canonical_amount(raw, round_to_milli)


def _canonical_amount(raw: Any, round_to_milli: bool) -> Any:
    try:
        amount = Quantity.parse(raw)
    except ValueError:
        return raw
    return str(amount.rounded_to_milli() if round_to_milli else amount)


_canonical_text = functools.lru_cache(maxsize=4096)(_canonical_amount)


# ---- helpers ----------------------------------------------------------------------------------


def _child(parent: Obj, key: str) -> Obj | None:
    """``parent[key]``, created empty when absent or null; None when it holds something else."""
    if parent.get(key) is None:
        parent[key] = {}
    value = parent[key]
    return value if isinstance(value, dict) else None


def _items(parent: Obj, key: str) -> list[Obj]:
    value = parent.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _fill(obj: Obj, key: str, value: Any) -> None:
    """Set ``obj[key]`` when it is absent or null."""
    if obj.get(key) is None:
        obj[key] = value
