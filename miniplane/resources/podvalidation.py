"""Validation of pod specs and pod templates, after ``ValidatePodSpec`` and ``ValidatePodTemplateSpec``.

Covered: containers and init containers (names, image, ports, env, volume mounts, pull and
termination-message policies, resources, probes, lifecycle hooks, host-port clashes), volumes, the
pod-level enums, node selector and node affinity, tolerations, and the pod update rule (only images,
activeDeadlineSeconds, added tolerations and a negative grace period may change). Placement checks
(tolerations, taints, affinity) live in ``schedvalidation``, volumes in ``volumevalidation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miniplane.resources import formats
from miniplane.resources.causes import (
    Cause,
    GoText,
    duplicate,
    forbidden,
    integer,
    invalid,
    mapping,
    non_negative,
    not_supported,
    required,
    seq,
    text,
)
from miniplane.resources.metavalidation import annotation_map, label_map, semantic
from miniplane.resources.quantity import Quantity
from miniplane.resources.schedvalidation import affinity, tolerations
from miniplane.resources.volumevalidation import (
    ENV_FIELD_PATHS,
    field_ref,
    resource_field_ref,
    volume_mounts,
    volumes,
)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PROTOCOLS = ("SCTP", "TCP", "UDP")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
HTTP_SCHEMES = ("HTTP", "HTTPS")
_STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_INTEGER_RESOURCES = frozenset(
    {"pods", "quotas", "services", "replicationcontrollers", "resourcequotas", "secrets",
     "persistentvolumeclaims", "configmaps", "services.nodeports", "services.loadbalancers"}
)  # fmt: skip
_STANDARD_RESOURCES = (
    _INTEGER_RESOURCES
    | _STANDARD_CONTAINER_RESOURCES
    | {"storage", "requests.storage"}
    | {f"{kind}.{res}" for kind in ("limits", "requests") for res in _STANDARD_CONTAINER_RESOURCES}
)
_NOT_SIDECAR = "may not be set for init containers without restartPolicy=Always"
_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
_MAX_INT32 = 2**31 - 1


@dataclass(frozen=True)
class _Pod:
    """What container checks need from the pod around them."""

    volumes: frozenset[str]
    grace: int | None
    is_pod: bool


def pod_template(template: Mapping[str, Any], path: str) -> list[Cause]:
    """A pod template (``spec.template``): labels and annotations are reported on ``<path>.labels``."""
    meta = mapping(template.get("metadata"))
    spec = mapping(template.get("spec"))
    causes = label_map(meta.get("labels"), f"{path}.labels")
    causes += annotation_map(meta.get("annotations"), f"{path}.annotations")
    causes += pod_spec(spec, f"{path}.spec", is_pod=False)
    if seq(spec.get("ephemeralContainers")):
        causes.append(forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return causes


def pod_spec(spec: Mapping[str, Any], path: str, *, is_pod: bool) -> list[Cause]:
    """A pod spec; ``is_pod`` adds the checks upstream runs on pods but not on templates."""
    causes: list[Cause] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        causes.append(required(f"{path}.terminationGracePeriodSeconds"))
    volume_names, volume_causes = volumes(seq(spec.get("volumes")), f"{path}.volumes")
    pod = _Pod(volume_names, grace if isinstance(grace, int) else None, is_pod)
    containers = [mapping(c) for c in seq(spec.get("containers"))]
    causes += volume_causes
    causes += _containers(containers, pod, f"{path}.containers")
    causes += _init_containers([mapping(c) for c in seq(spec.get("initContainers"))], containers, pod, path)
    causes += _host_network_ports(spec, containers, path, is_pod)
    causes += _one_of(spec.get("restartPolicy"), f"{path}.restartPolicy", RESTART_POLICIES)
    causes += _one_of(spec.get("dnsPolicy"), f"{path}.dnsPolicy", DNS_POLICIES)
    causes += label_map(spec.get("nodeSelector"), f"{path}.nodeSelector")
    causes += affinity(mapping(spec.get("affinity")), f"{path}.affinity")
    for key in ("serviceAccountName", "nodeName"):
        name = text(spec.get(key))
        causes += [invalid(f"{path}.{key}", name, m) for m in formats.name_is_dns_subdomain(name, False) if name]
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= integer(deadline) <= _MAX_INT32:
        causes.append(invalid(f"{path}.activeDeadlineSeconds", deadline, formats.inclusive_range_error(1, _MAX_INT32)))
    for key in ("hostname", "subdomain"):
        name = text(spec.get(key))
        causes += [invalid(f"{path}.{key}", name, m) for m in formats.dns_label(name) if name]
    causes += tolerations(seq(spec.get("tolerations")), f"{path}.tolerations")
    priority_class = text(spec.get("priorityClassName"))
    causes += [
        invalid(f"{path}.priorityClassName", priority_class, m)
        for m in formats.name_is_dns_subdomain(priority_class, False)
        if priority_class
    ]
    if spec.get("preemptionPolicy") is not None:
        causes += _one_of(spec.get("preemptionPolicy"), f"{path}.preemptionPolicy", PREEMPTION_POLICIES)
    return causes


def pod_spec_update(spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> list[Cause]:
    """A pod's spec is fixed once created, but for images, deadline, added tolerations, a negative grace."""
    causes: list[Cause] = []
    new_tolerations, old_tolerations = seq(spec.get("tolerations")), seq(old_spec.get("tolerations"))
    if not _only_added(new_tolerations, old_tolerations):
        causes.append(
            forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")
        )
    munged = dict(spec)
    for key in ("containers", "initContainers"):
        new, old = seq(spec.get(key)), seq(old_spec.get(key))
        if len(new) == len(old):
            munged[key] = [{**mapping(n), "image": mapping(o).get("image")} for n, o in zip(new, old, strict=True)]
    for key in ("activeDeadlineSeconds", "tolerations"):
        munged[key] = old_spec.get(key)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if integer(old_grace) < 0 and spec.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if semantic(munged) != semantic(old_spec):
        causes.append(
            forbidden("spec", "pod updates may not change fields other than " + ",".join(_UPDATABLE_POD_FIELDS))
        )
    return causes


def resource_quantity(name: str, raw: Any, path: str) -> list[Cause]:
    """One resource amount: it parses, is not negative, and is whole for integer resources."""
    return _quantity(name, raw, path)[1]


# ---- containers -------------------------------------------------------------------------------


def _containers(containers: list[Mapping[str, Any]], pod: _Pod, path: str) -> list[Cause]:
    if not containers:
        return [required(path)]
    causes: list[Cause] = []
    names: set[str] = set()
    for i, ctr in enumerate(containers):
        p = f"{path}[{i}]"
        causes += _container_common(ctr, pod, p)
        name = text(ctr.get("name"))
        if name in names:
            causes.append(duplicate(f"{p}.name", name))
        names.add(name)
        causes += _lifecycle(ctr, pod, p)
        causes += _probes(ctr, pod, p)
        if ctr.get("restartPolicy") is not None:
            causes.append(forbidden(f"{p}.restartPolicy", "may not be set for non-init containers"))
    return causes + _host_port_clashes(containers, path)


def _init_containers(
    inits: list[Mapping[str, Any]], containers: list[Mapping[str, Any]], pod: _Pod, spec_path: str
) -> list[Cause]:
    causes: list[Cause] = []
    path = f"{spec_path}.initContainers"
    names = {text(c.get("name")) for c in containers}
    for i, ctr in enumerate(inits):
        p = f"{path}[{i}]"
        causes += _container_common(ctr, pod, p)
        restart = ctr.get("restartPolicy")
        if restart is not None and restart != "Always":
            causes.append(not_supported(f"{p}.restartPolicy", restart, ["Always"]))
        name = text(ctr.get("name"))
        if name in names:
            causes.append(duplicate(f"{p}.name", name))
        elif name:
            names.add(name)
        causes += _host_port_clashes([ctr], path)  # upstream checks each alone, hence always index 0
        if restart == "Always":
            causes += _lifecycle(ctr, pod, p) + _probes(ctr, pod, p)
            continue
        for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if ctr.get(key) is not None:
                causes.append(forbidden(f"{p}.{key}", _NOT_SIDECAR))
    return causes


def _container_common(ctr: Mapping[str, Any], pod: _Pod, path: str) -> list[Cause]:
    causes: list[Cause] = []
    name, image = text(ctr.get("name")), text(ctr.get("image"))
    if not name:
        causes.append(required(f"{path}.name"))
    causes += [invalid(f"{path}.name", name, m) for m in formats.dns_label(name) if name]
    if not image:
        causes.append(required(f"{path}.image"))
    elif pod.is_pod and image != image.strip():
        causes.append(invalid(f"{path}.image", image, "must not have leading or trailing whitespace"))
    causes += _one_of(
        ctr.get("terminationMessagePolicy"), f"{path}.terminationMessagePolicy", TERMINATION_MESSAGE_POLICIES
    )
    causes += _ports([mapping(p) for p in seq(ctr.get("ports"))], f"{path}.ports")
    causes += _env([mapping(e) for e in seq(ctr.get("env"))], f"{path}.env")
    causes += _env_from([mapping(e) for e in seq(ctr.get("envFrom"))], f"{path}.envFrom")
    causes += volume_mounts([mapping(m) for m in seq(ctr.get("volumeMounts"))], pod.volumes, f"{path}.volumeMounts")
    causes += _one_of(ctr.get("imagePullPolicy"), f"{path}.imagePullPolicy", PULL_POLICIES)
    causes += _resources(mapping(ctr.get("resources")), f"{path}.resources")
    return causes


def _one_of(value: Any, path: str, supported: tuple[str, ...]) -> list[Cause]:
    if value is None or value == "":
        return [required(path)]
    return [] if value in supported else [not_supported(path, value, supported)]


def _ports(ports: list[Mapping[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = f"{path}[{i}]"
        name = text(port.get("name"))
        problems = formats.port_name(name) if name else []
        causes += [invalid(f"{p}.name", name, m) for m in problems]
        if name and not problems and name in names:
            causes.append(duplicate(f"{p}.name", name))
        names.add(name)
        container_port, host_port = port.get("containerPort"), port.get("hostPort")
        if not integer(container_port):
            causes.append(required(f"{p}.containerPort"))
        causes += [invalid(f"{p}.containerPort", container_port, m) for m in _port_problems(container_port)]
        causes += [invalid(f"{p}.hostPort", host_port, m) for m in _port_problems(host_port)]
        causes += _one_of(port.get("protocol"), f"{p}.protocol", PROTOCOLS)
    return causes


def _port_problems(port: Any) -> list[str]:
    """Range problems of a set port (0 or absent means unset)."""
    return formats.port_number(integer(port)) if integer(port) else []


def _host_port_clashes(containers: list[Mapping[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, ctr in enumerate(containers):
        for j, port in enumerate(mapping(p) for p in seq(ctr.get("ports"))):
            host_port = integer(port.get("hostPort"))
            if not host_port:
                continue
            key = f"{text(port.get('protocol'))}/{text(port.get('hostIP'))}/{host_port}"
            if key in seen:
                causes.append(duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
            seen.add(key)
    return causes


def _host_network_ports(
    spec: Mapping[str, Any], containers: list[Mapping[str, Any]], path: str, is_pod: bool
) -> list[Cause]:
    """With hostNetwork a pod's hostPort must equal containerPort (templates may leave it 0)."""
    if spec.get("hostNetwork") is not True:
        return []
    causes: list[Cause] = []
    for i, ctr in enumerate(containers):
        for j, port in enumerate(mapping(p) for p in seq(ctr.get("ports"))):
            host, cont = integer(port.get("hostPort")), integer(port.get("containerPort"))
            if (is_pod or host) and host != cont:
                detail = "must match `containerPort` when `hostNetwork` is true"
                causes.append(invalid(f"{path}.containers[{i}].ports[{j}].hostPort", host, detail))
    return causes


# ---- env ------------------------------------------------------------------------------------


def _env(env: list[Mapping[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(env):
        p = f"{path}[{i}]"
        name = text(var.get("name"))
        if not name:
            causes.append(required(f"{p}.name"))
        else:
            causes += [invalid(f"{p}.name", name, m) for m in formats.env_var_name(name)]
        causes += _env_value_from(var, f"{p}.valueFrom")
    return causes


def _env_value_from(var: Mapping[str, Any], path: str) -> list[Cause]:
    if var.get("valueFrom") is None:
        return []
    source = mapping(var.get("valueFrom"))
    causes: list[Cause] = []
    present = [key for key in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if source.get(key)]
    for key in present:
        ref, p = mapping(source[key]), f"{path}.{key}"
        if key == "fieldRef":
            causes += field_ref(ref, p, ENV_FIELD_PATHS)
        elif key == "resourceFieldRef":
            causes += resource_field_ref(ref, p, volume=False)
        else:
            causes += _key_ref(ref, p)
    if not present:
        detail = "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
        causes.append(invalid(path, "", detail))
    elif text(var.get("value")):
        causes.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif len(present) > 1:
        causes.append(invalid(path, "", "may not have more than one field specified at a time"))
    return causes


def _key_ref(ref: Mapping[str, Any], path: str) -> list[Cause]:
    """``configMapKeyRef``/``secretKeyRef``: a valid object name (even when empty) and a key."""
    name, key = text(ref.get("name")), text(ref.get("key"))
    causes = [invalid(f"{path}.name", name, m) for m in formats.name_is_dns_subdomain(name, False)]
    if not key:
        causes.append(required(f"{path}.key"))
    causes += [invalid(f"{path}.key", key, m) for m in formats.config_map_key(key) if key]
    return causes


def _env_from(sources: list[Mapping[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, source in enumerate(sources):
        p = f"{path}[{i}]"
        prefix = text(source.get("prefix"))
        causes += [invalid(f"{p}.prefix", prefix, m) for m in formats.env_var_name(prefix) if prefix]
        present = [key for key in ("configMapRef", "secretRef") if source.get(key) is not None]
        for key in present:
            name = text(mapping(source[key]).get("name"))
            if not name:
                causes.append(required(f"{p}.{key}.name"))
            causes += [invalid(f"{p}.{key}.name", name, m) for m in formats.name_is_dns_subdomain(name, True) if name]
        if not present:
            causes.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(present) > 1:
            causes.append(invalid(path, "", "may not have more than one field specified at a time"))
    return causes


# ---- resources ------------------------------------------------------------------------------


def _resources(resources: Mapping[str, Any], path: str) -> list[Cause]:
    """Names and amounts of limits and requests; a request may not exceed its limit."""
    causes: list[Cause] = []
    limits: dict[str, Quantity | None] = {}
    for name, raw in mapping(resources.get("limits")).items():
        p = f"{path}.limits[{name}]"
        causes += _container_resource_name(name, p)
        limits[name], problems = _quantity(name, raw, p)
        causes += problems
    for name, raw in mapping(resources.get("requests")).items():
        p = f"{path}.requests[{name}]"
        causes += _container_resource_name(name, p)
        request, problems = _quantity(name, raw, p)
        causes += problems
        limit = limits.get(name)
        if name not in limits:
            if not _overcommit_allowed(name):
                causes.append(required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
        elif request is not None and limit is not None:
            if request != limit and not _overcommit_allowed(name):
                causes.append(invalid(f"{path}.requests", str(request), f"must be equal to {name} limit of {limit}"))
            elif request > limit:
                detail = f"must be less than or equal to {name} limit of {limit}"
                causes.append(invalid(f"{path}.requests", str(request), detail))
    return causes


def _quantity(name: str, raw: Any, path: str) -> tuple[Quantity | None, list[Cause]]:
    try:
        amount = Quantity.parse(raw)
    except ValueError as err:
        return None, [invalid(path, raw, str(err))]
    causes: list[Cause] = []
    if amount.value < 0:
        causes.append(invalid(path, str(amount), "must be greater than or equal to 0"))
    if (name in _INTEGER_RESOURCES or _extended(name)) and amount.milli_value() % 1000:
        causes.append(invalid(path, GoText(str(amount)), "must be an integer"))
    return amount, causes


def _container_resource_name(name: str, path: str) -> list[Cause]:
    problems = formats.qualified_name(name)
    if problems:
        return [invalid(path, name, m) for m in problems]
    causes: list[Cause] = []
    if "/" not in name:
        hugepages = name.startswith("hugepages-")
        if name not in _STANDARD_RESOURCES and not hugepages:
            causes.append(invalid(path, name, "must be a standard resource type or fully qualified"))
        if name not in _STANDARD_CONTAINER_RESOURCES and not hugepages:
            causes.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _native(name) and not _extended(name):
        causes.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return causes


def _native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _extended(name: str) -> bool:
    return not _native(name) and not name.startswith("requests.") and not formats.qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _native(name) and not name.startswith("hugepages-")


# ---- probes and hooks -------------------------------------------------------------------------

_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_HOOK_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")


def _probes(ctr: Mapping[str, Any], pod: _Pod, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if ctr.get(key) is None:
            continue
        probe, p = mapping(ctr[key]), f"{path}.{key}"
        causes += _handler(probe, p, _PROBE_HANDLERS, pod.grace)
        for field in (
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ):
            causes += non_negative(f"{p}.{field}", probe.get(field))
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is not None and integer(grace) <= 0:
            causes.append(invalid(f"{p}.terminationGracePeriodSeconds", grace, "must be greater than 0"))
        if key == "readinessProbe" and grace is not None:
            causes.append(invalid(f"{p}.terminationGracePeriodSeconds", grace, "must not be set for readinessProbes"))
        success = probe.get("successThreshold", 0)
        if key != "readinessProbe" and success != 1:
            causes.append(invalid(f"{p}.successThreshold", success, "must be 1"))
    return causes


def _lifecycle(ctr: Mapping[str, Any], pod: _Pod, path: str) -> list[Cause]:
    hooks = mapping(ctr.get("lifecycle"))
    causes: list[Cause] = []
    for key in ("postStart", "preStop"):
        if hooks.get(key) is not None:
            causes += _handler(mapping(hooks[key]), f"{path}.lifecycle.{key}", _HOOK_HANDLERS, pod.grace)
    return causes


def _handler(handler: Mapping[str, Any], path: str, kinds: tuple[str, ...], grace: int | None) -> list[Cause]:
    causes: list[Cause] = []
    found = False
    for kind in kinds:
        if handler.get(kind) is None:
            continue
        if found:
            causes.append(forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        found = True
        action, p = mapping(handler[kind]), f"{path}.{kind}"
        if kind == "exec" and not seq(action.get("command")):
            causes.append(required(f"{p}.command"))
        elif kind == "httpGet":
            causes += _http_get(action, p)
        elif kind in ("tcpSocket", "grpc"):
            causes += _port_num_or_name(action.get("port"), f"{p}.port")
        elif kind == "sleep" and grace is not None and not 0 <= integer(action.get("seconds")) <= grace:
            detail = f"must be non-negative and less than terminationGracePeriodSeconds ({grace})"
            causes.append(invalid(p, action.get("seconds", 0), detail))
    if not found:
        causes.append(required(path, "must specify a handler type"))
    return causes


def _http_get(action: Mapping[str, Any], path: str) -> list[Cause]:
    causes = [] if text(action.get("path")) else [required(f"{path}.path")]
    causes += _port_num_or_name(action.get("port"), f"{path}.port")
    if action.get("scheme") not in HTTP_SCHEMES:
        causes.append(not_supported(f"{path}.scheme", action.get("scheme", ""), HTTP_SCHEMES))
    for header in (mapping(h) for h in seq(action.get("httpHeaders"))):
        name = text(header.get("name"))
        causes += [invalid(f"{path}.httpHeaders", name, m) for m in formats.http_header_name(name)]
    return causes


def _port_num_or_name(port: Any, path: str) -> list[Cause]:
    if isinstance(port, str):
        return [invalid(path, port, m) for m in formats.port_name(port)]
    return [invalid(path, integer(port), m) for m in formats.port_number(integer(port))]


# ---- updates ----------------------------------------------------------------------------------


def _only_added(new: list[Any], old: list[Any]) -> bool:
    """Every old toleration is still there (its tolerationSeconds may change)."""

    def bare(toleration: Any) -> dict[str, Any]:
        return {k: v for k, v in mapping(toleration).items() if k != "tolerationSeconds"}

    remaining = [bare(t) for t in new]
    return all(bare(t) in remaining for t in old)
