"""Which nodes a DaemonSet runs on (pure): Kubernetes' ``NodeShouldRunDaemonPod``.

The DaemonSet controller calls ``should_run`` for every (node, DaemonSet) pair; ``add_daemon_tolerations``
gives the tolerations every daemon pod carries (those of the template plus the automatic ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from miniplane.scheduling.node_affinity import matches_pod_node_affinity
from miniplane.scheduling.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    SCHEDULING_EFFECTS,
    Toleration,
    first_untolerated,
    node_taints,
)

# Added to every daemon pod, in this order; never carry tolerationSeconds.
_ALWAYS = (
    ("node.kubernetes.io/not-ready", NO_EXECUTE),
    ("node.kubernetes.io/unreachable", NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
_HOST_NETWORK_ONLY = (("node.kubernetes.io/network-unavailable", NO_SCHEDULE),)


def add_daemon_tolerations(tolerations: Iterable[Toleration], host_network: bool) -> list[dict[str, Any]]:
    """The template's tolerations followed by the automatic ones ("add or update").

    A template toleration with the same key, operator, value and effect as an automatic one is
    replaced in place by it (dropping its ``tolerationSeconds``); the others are appended. As
    upstream, nothing changes for a key when one such toleration is already identical.
    """
    result = [dict(t) for t in tolerations]
    wanted = _ALWAYS + (_HOST_NETWORK_ONLY if host_network else ())
    for key, effect in wanted:
        auto = {"key": key, "operator": "Exists", "effect": effect}
        same = [i for i, t in enumerate(result) if _same_toleration(t, auto)]
        if not same:
            result.append(auto)
        elif all(result[i].get("tolerationSeconds") is not None for i in same):
            for i in same:
                result[i] = dict(auto)
    return result


def daemon_pod_spec(ds: Mapping[str, Any]) -> dict[str, Any]:
    """The template's pod spec with the automatic tolerations, as the predicate sees it."""
    spec = dict(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    spec["tolerations"] = add_daemon_tolerations(spec.get("tolerations") or [], bool(spec.get("hostNetwork")))
    return spec


def should_run(node: Mapping[str, Any], ds: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(shouldRun, shouldContinueRunning)`` of the DaemonSet on the node.

    1. ``template.spec.nodeName`` set to another node: ``(False, False)``.
    2. ``nodeSelector`` or required node affinity not matched: ``(False, False)``.
    3. Every NoSchedule/NoExecute taint tolerated: ``(True, True)``; otherwise ``(False, True)`` if every
       NoExecute taint is tolerated, else ``(False, False)``. PreferNoSchedule never matters.
    """
    return should_run_spec(node, daemon_pod_spec(ds))


def should_run_spec(node: Mapping[str, Any], spec: Mapping[str, Any]) -> tuple[bool, bool]:
    """``should_run`` for a precomputed ``daemon_pod_spec`` (saves work over many nodes)."""
    node_name = (node.get("metadata") or {}).get("name")
    if spec.get("nodeName") and spec["nodeName"] != node_name:
        return False, False
    if not matches_pod_node_affinity(spec, node):
        return False, False
    taints = node_taints(node)
    tolerations = spec.get("tolerations") or []
    if first_untolerated(taints, tolerations, SCHEDULING_EFFECTS) is None:
        return True, True
    return False, first_untolerated(taints, tolerations, (NO_EXECUTE,)) is None


def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect"))
