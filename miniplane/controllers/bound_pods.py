"""The binder's index of live pods per node, holding only what the scheduler's filters read.

Pods enter when the watch shows them bound, or earlier when the binder "assumes" its own binding
(so the next decision sees it before the write is through); they leave when deleted or terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PodKey = tuple[str, str]  # (namespace, name)
Obj = dict[str, Any]
_CONTAINER_FIELDS = ("resources", "ports", "restartPolicy")
_POD_AFFINITY = ("podAffinity", "podAntiAffinity")


class BoundPods:
    """Live pods by node, slimmed, and which of them carry required pod anti-affinity."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[PodKey, Obj]] = {}
        self._node_of: dict[PodKey, str] = {}
        self._anti_affinity: set[PodKey] = set()

    def clear(self) -> None:
        self._by_node.clear()
        self._node_of.clear()
        self._anti_affinity.clear()

    def put(self, key: PodKey, node: str, pod: Obj) -> None:
        """Record ``pod`` as bound to ``node`` (moving it if it was recorded elsewhere)."""
        if self._node_of.get(key) not in (None, node):
            self.remove(key)
        slim = _slim(pod)
        self._node_of[key] = node
        self._by_node.setdefault(node, {})[key] = slim
        affinity = slim["spec"].get("affinity") or {}
        if (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"):
            self._anti_affinity.add(key)

    def remove(self, key: PodKey) -> bool:
        """Forget a pod; True if it was recorded."""
        node = self._node_of.pop(key, None)
        self._anti_affinity.discard(key)
        if node is None:
            return False
        self._by_node.get(node, {}).pop(key, None)
        return True

    def on(self, nodes: Iterable[str]) -> list[Obj]:
        """The pods bound to any of ``nodes``."""
        return [pod for node in nodes for pod in self._by_node.get(node, {}).values()]

    def count(self, node: str) -> int:
        return len(self._by_node.get(node, ()))

    @property
    def any_anti_affinity(self) -> bool:
        """Whether some bound pod has required pod anti-affinity (then no pod may skip nodes)."""
        return bool(self._anti_affinity)


def _slim(pod: Obj) -> Obj:
    """What the filters read of a bound pod: identity, labels, phase, requests, host ports, pod (anti-)affinity."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    slim_spec = {k: spec[k] for k in ("nodeName", "overhead", "resources") if k in spec}
    affinity = {k: v for k, v in (spec.get("affinity") or {}).items() if k in _POD_AFFINITY}
    if affinity:  # node affinity is only read of the pod being scheduled
        slim_spec["affinity"] = affinity
    for key in ("containers", "initContainers"):
        slim_spec[key] = [{k: c[k] for k in _CONTAINER_FIELDS if k in c} for c in spec.get(key) or []]
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "labels") if k in meta},
        "spec": slim_spec,
        "status": {"phase": (pod.get("status") or {}).get("phase")},
    }
