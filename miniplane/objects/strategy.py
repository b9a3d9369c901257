"""Per-kind rules the API server applies on every write, as Kubernetes' registry strategies do.

- which part of an object the main resource may change and which only ``/status`` may;
- ``metadata.generation`` bumps on spec changes only (DaemonSets also count template generations);
- fields the server owns (uid, creationTimestamp, ...) survive any client write.
"""

from __future__ import annotations

from typing import Any

from miniplane.resources.registry import ResourceInfo

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}

# Kinds whose spec changes bump metadata.generation (Kubernetes: workloads, and pods since 1.33).
_GENERATION_KINDS = {"DaemonSet", "Pod"}
# Metadata the server owns; a client write cannot change it.
_SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)


def has_status(info: ResourceInfo) -> bool:
    return info.subresource("status") is not None


def prepare_for_create(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Reset what a create may not set: status (where it is a subresource), generation."""
    meta = obj["metadata"]
    if info.kind in _GENERATION_KINDS:
        meta["generation"] = 1
    if info.kind == "DaemonSet":
        meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"
        obj["status"] = {
            "currentNumberScheduled": 0,
            "desiredNumberScheduled": 0,
            "numberMisscheduled": 0,
            "numberReady": 0,
        }
    elif info.kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    elif info.kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec", {}))}
    elif info.kind == "Node":
        _taint_new_node(obj)


def _taint_new_node(node: dict[str, Any]) -> None:
    """TaintNodesByCondition admission: a new Node is ``not-ready:NoSchedule`` until it reports Ready."""
    spec = node.get("spec") or {}
    taints = spec.get("taints") or []
    if not any(t.get("key") == _NOT_READY["key"] and t.get("effect") == _NOT_READY["effect"] for t in taints):
        spec["taints"] = [*taints, dict(_NOT_READY)]
    node["spec"] = spec


def qos_class(pod_spec: dict[str, Any]) -> str:
    """Kubernetes' QoS class: Guaranteed, Burstable or BestEffort, from requests and limits."""
    containers = [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]
    resources = [c.get("resources") or {} for c in containers if isinstance(c, dict)]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for r in resources:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        if any(k not in limits for k in ("cpu", "memory")):
            return "Burstable"
        if any(str(requests.get(k, limits[k])) != str(limits[k]) for k in ("cpu", "memory")):
            return "Burstable"
    return "Guaranteed"


def prepare_for_update(info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any]) -> None:
    """Keep server-owned fields and status; bump generations when the spec changed."""
    meta, old_meta = obj["metadata"], old["metadata"]
    _keep_server_metadata(meta, old_meta)
    if has_status(info):
        _copy_key(obj, old, "status")
    if info.kind == "DaemonSet":
        annotations = meta.setdefault("annotations", {})
        old_template_gen = old_meta.get("annotations", {}).get(TEMPLATE_GENERATION, "1")
        annotations[TEMPLATE_GENERATION] = old_template_gen
        if obj.get("spec", {}).get("template") != old.get("spec", {}).get("template"):
            annotations[TEMPLATE_GENERATION] = str(int(old_template_gen) + 1)
    if info.kind in _GENERATION_KINDS and obj.get("spec") != old.get("spec"):
        meta["generation"] = int(old_meta.get("generation", 1)) + 1


def prepare_for_status_update(obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A ``/status`` write changes only ``status``: everything else comes from the stored object."""
    new = dict(old)
    if "status" in obj:
        new["status"] = obj["status"]
    else:
        new.pop("status", None)
    new["metadata"] = dict(old["metadata"])
    return new


def _keep_server_metadata(meta: dict[str, Any], old_meta: dict[str, Any]) -> None:
    for key in _SERVER_METADATA:
        _copy_key(meta, old_meta, key)


def _copy_key(dst: dict[str, Any], src: dict[str, Any], key: str) -> None:
    if key in src:
        dst[key] = src[key]
    else:
        dst.pop(key, None)
