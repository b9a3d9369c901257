"""The scheduler's filters (pure): which nodes can take a pod, and the message when none can.

A binder calls ``filter_nodes`` for a pending pod, binds it to a node that fits, or writes
``PodScheduled=False, reason: Unschedulable`` with ``unschedulable_message`` when none does. The
filters run in the default profile's order and stop at the first failing one per node:
NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
InterPodAffinity. As upstream, a required node affinity pinned to node names (``matchFields
metadata.name In``, what daemon pods carry) is narrowed in PreFilter: other nodes are not filtered
and report ``node(s) didn't satisfy plugin(s) [NodeAffinity]``. Preemption is not simulated: nodes
that failed for a resolvable reason report ``No preemption victims found for incoming pod``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from miniplane.scheduling.interpod import AFFINITY_MISMATCH, InterPodState, NamespaceLabels
from miniplane.scheduling.node_affinity import matches_pod_node_affinity, required_node_affinity
from miniplane.scheduling.ports import ports_clash
from miniplane.scheduling.resources import insufficient
from miniplane.scheduling.taints import SCHEDULING_EFFECTS, first_untolerated, node_taints, tolerated

UNSCHEDULABLE = "node(s) were unschedulable"
NODE_NAME_MISMATCH = "node(s) didn't match the requested node name"
AFFINITY_SELECTOR_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
NO_FREE_PORTS = "node(s) didn't have free ports for the requested pod ports"
NOT_PRE_FILTERED = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"

_UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True)
class NodeFit:
    """One node's filter result: no reasons means the pod fits."""

    reasons: tuple[str, ...] = ()
    resolvable: bool = True  # False = UnschedulableAndUnresolvable: preemption cannot help

    @property
    def fits(self) -> bool:
        return not self.reasons


def filter_nodes(
    pod: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    namespace_labels: NamespaceLabels | None = None,
) -> dict[str, NodeFit]:
    """Run the filters for ``pod`` on every node; ``pods`` are all pods (only bound, live ones count)."""
    me = _key(pod)
    by_node: dict[str, list[Mapping[str, Any]]] = {}
    for other in pods:
        node_name = (other.get("spec") or {}).get("nodeName")
        if node_name and _key(other) != me and (other.get("status") or {}).get("phase") not in _TERMINAL:
            by_node.setdefault(node_name, []).append(other)
    spec = pod.get("spec") or {}
    pinned = _pinned_node_names(spec)
    interpod = InterPodState.build(pod, nodes, by_node, namespace_labels or {})
    result: dict[str, NodeFit] = {}
    for node in nodes:
        name = (node.get("metadata") or {}).get("name") or ""
        if pinned is not None and name not in pinned:
            result[name] = NodeFit((NOT_PRE_FILTERED,), resolvable=False)
        else:
            result[name] = _filter(spec, node, by_node.get(name, []), interpod)
    return result


def unschedulable_message(reasons_per_node: Mapping[str, NodeFit]) -> str:
    """``0/3 nodes are available: 1 Insufficient memory, 2 ... preemption: 0/3 nodes are available: ...``.

    For a pod no node fits; reasons are counted over nodes and sorted as text, as the scheduler does.
    """
    total = len(reasons_per_node)
    if not total:
        return "no nodes available to schedule pods"
    reasons = Counter(r for fit in reasons_per_node.values() for r in fit.reasons)
    preemption = Counter(NO_VICTIMS if fit.resolvable else NOT_HELPFUL for fit in reasons_per_node.values())
    return f"{_histogram(total, reasons)} preemption: {_histogram(total, preemption)}"


def _filter(
    spec: Mapping[str, Any], node: Mapping[str, Any], bound: list[Mapping[str, Any]], interpod: InterPodState
) -> NodeFit:
    tolerations = spec.get("tolerations") or []
    if (node.get("spec") or {}).get("unschedulable") and not tolerated(_UNSCHEDULABLE_TAINT, tolerations):
        return NodeFit((UNSCHEDULABLE,), resolvable=False)
    if spec.get("nodeName") and spec["nodeName"] != (node.get("metadata") or {}).get("name"):
        return NodeFit((NODE_NAME_MISMATCH,), resolvable=False)
    taint = first_untolerated(node_taints(node), tolerations, SCHEDULING_EFFECTS)
    if taint is not None:
        text = f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"
        return NodeFit((text,), resolvable=False)
    if not matches_pod_node_affinity(spec, node):
        return NodeFit((AFFINITY_SELECTOR_MISMATCH,), resolvable=False)
    if ports_clash(spec, bound):
        return NodeFit((NO_FREE_PORTS,))
    reasons = insufficient(spec, node, bound)
    if reasons:
        return NodeFit(tuple(reasons))
    reason = interpod.reason(node)
    if reason is not None:
        return NodeFit((reason,), resolvable=reason != AFFINITY_MISMATCH)
    return NodeFit()


def _pinned_node_names(spec: Mapping[str, Any]) -> set[str] | None:
    """NodeAffinity PreFilter: the node names every required term pins, or None (all nodes)."""
    required = required_node_affinity(spec)
    if required is None or not required.get("nodeSelectorTerms"):
        return None
    names: set[str] = set()
    for term in required["nodeSelectorTerms"]:
        term_names: set[str] | None = None
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = set(req.get("values") or [])
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return names


def _histogram(total: int, reasons: Counter[str]) -> str:
    counted = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))
    return f"0/{total} nodes are available: {counted}."


def _key(pod: Mapping[str, Any]) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or ""
