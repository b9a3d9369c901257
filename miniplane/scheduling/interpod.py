"""InterPodAffinity (pure): required pod affinity and anti-affinity, over any ``topologyKey``.

Used by ``fit.py``; ``InterPodState.build`` does the scheduler's PreFilter once per pod, ``reason``
its Filter per node. Only ``requiredDuringSchedulingIgnoredDuringExecution`` terms count. A term
selects pods by ``labelSelector`` (null selects nothing) in ``namespaces``, or the pod's own namespace
when neither ``namespaces`` nor ``namespaceSelector`` is set; ``namespaceSelector`` matches the labels
given in ``namespace_labels`` (``{}`` matches every namespace). ``matchLabelKeys`` is not supported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from miniplane.selectors import LabelSelector, SelectorError

AFFINITY_MISMATCH = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_MISMATCH = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"

Pod = Mapping[str, Any]
Node = Mapping[str, Any]
Pair = tuple[str, str]  # (topology key, value)
NamespaceLabels = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class InterPodState:
    """Topology pairs counted over the bound pods, for one incoming pod."""

    affinity_terms: tuple[Mapping[str, Any], ...]
    anti_affinity_terms: tuple[Mapping[str, Any], ...]
    affinity_counts: Counter[Pair]
    anti_affinity_counts: Counter[Pair]
    existing_anti_affinity_counts: Counter[Pair]
    matches_own_affinity: bool

    @classmethod
    def build(
        cls, pod: Pod, nodes: Iterable[Node], pods_by_node: Mapping[str, Sequence[Pod]], ns: NamespaceLabels
    ) -> InterPodState:
        """Count, per topology pair, the bound pods the incoming pod's terms select, and vice versa."""
        affinity = tuple(_required(pod, "podAffinity"))
        anti = tuple(_required(pod, "podAntiAffinity"))
        counts: tuple[Counter[Pair], Counter[Pair], Counter[Pair]] = (Counter(), Counter(), Counter())
        for node in nodes:
            labels = (node.get("metadata") or {}).get("labels") or {}
            for other in pods_by_node.get((node.get("metadata") or {}).get("name", ""), ()):
                if affinity and all(_selects(pod, t, other, ns) for t in affinity):
                    _count(counts[0], affinity, labels)
                _count(counts[1], [t for t in anti if _selects(pod, t, other, ns)], labels)
                theirs = [t for t in _required(other, "podAntiAffinity") if _selects(other, t, pod, ns)]
                _count(counts[2], theirs, labels)
        own = all(_selects(pod, t, pod, ns) for t in affinity)
        return cls(affinity, anti, *counts, own)

    def reason(self, node: Node) -> str | None:
        """The Filter's failure reason on this node, or None when the node passes."""
        labels = (node.get("metadata") or {}).get("labels") or {}
        if self.affinity_terms:
            if any(t["topologyKey"] not in labels for t in self.affinity_terms):
                return AFFINITY_MISMATCH
            found = all(self.affinity_counts[_pair(t, labels)] > 0 for t in self.affinity_terms)
            if not found and (self.affinity_counts or not self.matches_own_affinity):
                return AFFINITY_MISMATCH
        for term in self.anti_affinity_terms:
            if term["topologyKey"] in labels and self.anti_affinity_counts[_pair(term, labels)] > 0:
                return ANTI_AFFINITY_MISMATCH
        if any(self.existing_anti_affinity_counts[pair] > 0 for pair in labels.items()):
            return EXISTING_ANTI_AFFINITY
        return None


def _required(pod: Pod, kind: str) -> list[Mapping[str, Any]]:
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return list(affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or [])


def _selects(owner: Pod, term: Mapping[str, Any], pod: Pod, ns: NamespaceLabels) -> bool:
    """Whether ``owner``'s affinity term selects ``pod``."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    names = term.get("namespaces") or []
    ns_selector = term.get("namespaceSelector")
    if not names and ns_selector is None:
        names = [(owner.get("metadata") or {}).get("namespace") or "default"]
    in_namespace = namespace in names or (ns_selector is not None and _matches(ns_selector, ns.get(namespace, {})))
    selector = term.get("labelSelector")
    return in_namespace and selector is not None and _matches(selector, meta.get("labels") or {})


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A ``metav1.LabelSelector``; one that does not parse matches nothing."""
    try:
        return LabelSelector.from_api(selector).matches(labels)
    except SelectorError:
        return False


def _count(counter: Counter[Pair], terms: Iterable[Mapping[str, Any]], labels: Mapping[str, str]) -> None:
    for term in terms:
        if term["topologyKey"] in labels:
            counter[_pair(term, labels)] += 1


def _pair(term: Mapping[str, Any], labels: Mapping[str, str]) -> Pair:
    return term["topologyKey"], labels[term["topologyKey"]]
