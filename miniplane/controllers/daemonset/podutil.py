"""Pod facts the DaemonSet decisions share (pure): target node, phase, readiness, age, revision.

Names follow Kubernetes' ``podutil`` and ``daemon/util`` (``IsPodReady``, ``IsPodAvailable``,
``GetTargetNodeName``, ``IsPodUpdated``, ``podByCreationTimestampAndPhase``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from miniplane.timeutil import parse_time

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"

Pod = Mapping[str, Any]
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time, for missing timestamps


def name(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def target_node(pod: Pod) -> str | None:
    """``spec.nodeName``, else the single value of the injected ``matchFields metadata.name In``."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = req.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def planning_view(pod: dict[str, Any]) -> dict[str, Any]:
    """The parts of a decoded pod the DaemonSet decisions read: metadata without managedFields,
    ``spec.nodeName`` and ``spec.affinity``, ``status.phase`` and the Ready condition (the
    controller keeps one per pod between syncs)."""
    meta = pod.get("metadata") or {}
    meta.pop("managedFields", None)
    spec = pod.get("spec") or {}
    pod["spec"] = {k: spec[k] for k in ("nodeName", "affinity") if k in spec}
    status = pod.get("status") or {}
    ready = [c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Ready"]
    pod["status"] = {"phase": status["phase"]} if "phase" in status else {}
    if ready:
        pod["status"]["conditions"] = ready
    return pod


def is_bound(pod: Pod) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def phase(pod: Pod) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_terminal(pod: Pod) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_terminating(pod: Pod) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _ready_condition(pod: Pod) -> Mapping[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return None


def is_ready(pod: Pod) -> bool:
    condition = _ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def available_at(pod: Pod, min_ready_seconds: int) -> datetime | None:
    """The first instant the pod counts as available (strictly after it), or None if not Ready."""
    condition = _ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    if min_ready_seconds == 0:
        return _EPOCH
    since = condition.get("lastTransitionTime")
    return parse_time(since) + timedelta(seconds=min_ready_seconds) if since else None


def is_available(pod: Pod, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and ``minReadySeconds`` elapsed since the Ready condition's ``lastTransitionTime``."""
    at = available_at(pod, min_ready_seconds)
    return at is not None and (min_ready_seconds == 0 or at < now)


def template_generation(ds: Mapping[str, Any]) -> int | None:
    """The DaemonSet's template generation annotation, or None when missing or unparsable."""
    value = ((ds.get("metadata") or {}).get("annotations") or {}).get(GENERATION_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_updated(pod: Pod, current_hash: str, generation: int | None) -> bool:
    """Hash label equals the current hash OR ``pod-template-generation`` equals the DS's."""
    pod_labels = labels(pod)
    if current_hash and pod_labels.get(HASH_LABEL) == current_hash:
        return True
    return generation is not None and pod_labels.get(GENERATION_LABEL) == str(generation)


def created(obj: Mapping[str, Any]) -> datetime:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    return parse_time(stamp) if stamp else _EPOCH


def oldest_first(pod: Pod) -> tuple[bool, datetime, str]:
    """Sort key: bound pods first, then earlier ``creationTimestamp``, then name."""
    return (not is_bound(pod), created(pod), name(pod))


def group_by_node(pods: Iterable[Pod], *, include_deleted_terminal: bool = False) -> dict[str, list[Pod]]:
    """Pods by target node; pods without one are left out, and so (by default) are terminal pods
    that also have a ``deletionTimestamp``."""
    grouped: dict[str, list[Pod]] = {}
    for pod in pods:
        if not include_deleted_terminal and is_terminal(pod) and is_terminating(pod):
            continue
        node = target_node(pod)
        if node is not None:
            grouped.setdefault(node, []).append(pod)
    return grouped
