"""Parse Kubernetes REST paths into what they address.

/api/v1/nodes/n1/status                 → nodes, name n1, subresource status
/api/v1/namespaces/default/pods         → pods in namespace default (collection)
/apis/apps/v1/daemonsets                → daemonsets in all namespaces
/api/v1/namespaces/kube-system          → the namespace object kube-system
"""

from __future__ import annotations

from dataclasses import dataclass

from miniplane.resources.registry import BY_PATH, ResourceInfo


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved resource path."""

    info: ResourceInfo
    namespace: str | None  # None: all namespaces (collections) or cluster-scoped
    name: str = ""
    subresource: str = ""

    @property
    def is_collection(self) -> bool:
        return not self.name


def parse(group: str, version: str, rest: list[str]) -> Target | None:
    """Resolve the segments after ``/api/v1`` or ``/apis/G/V``; None if nothing is served there."""
    if len(rest) >= 3 and rest[0] == "namespaces":
        info = BY_PATH.get((group, version, rest[2]))
        if info is not None and info.namespaced and len(rest) <= 5 and rest[1]:
            name = rest[3] if len(rest) > 3 else ""
            sub = rest[4] if len(rest) > 4 else ""
            return _checked(Target(info, rest[1], name, sub))
    if not rest or len(rest) > 3:
        return None
    info = BY_PATH.get((group, version, rest[0]))
    if info is None:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if info.namespaced and name:
        return None
    return _checked(Target(info, None, name, sub))


def _checked(target: Target) -> Target | None:
    if not target.name and target.subresource:
        return None
    if target.subresource and target.info.subresource(target.subresource) is None:
        return None
    return target
