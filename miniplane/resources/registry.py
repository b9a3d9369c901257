"""The resource kinds miniplane serves: names, scope, verbs and subresources.

Discovery, routing, OpenAPI and the store all read this one table. ``ResourceInfo.key`` is the
group-qualified plural (``pods``, ``daemonsets.apps``) used as the store's resource name and in
Kubernetes' error messages (``daemonsets.apps "x" not found``).
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Subresource:
    """A subresource such as ``status`` or ``log`` and what it answers with."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""  # response kind's group when it differs from the parent's (eviction: policy)
    version: str = ""


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """One served resource."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> str:
        """Group-qualified plural: the store's resource name."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version_path(self) -> str:
        """URL prefix of the group version: ``/api/v1`` or ``/apis/apps/v1``."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)


_STATUS_VERBS = ("get", "patch", "update")

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        subresources=(Subresource("status", "Namespace", _STATUS_VERBS),),
    ),
    ResourceInfo(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        ("no",),
        subresources=(Subresource("status", "Node", _STATUS_VERBS),),
    ),
    ResourceInfo(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        ("all",),
        subresources=(
            Subresource("binding", "Binding", ("create",)),
            Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
            Subresource("exec", "PodExecOptions", ("create", "get")),
            Subresource("log", "Pod", ("get",)),
            Subresource("status", "Pod", _STATUS_VERBS),
        ),
    ),
    ResourceInfo("", "v1", "Event", "events", True, ("ev",)),
    ResourceInfo("coordination.k8s.io", "v1", "Lease", "leases", True),
    ResourceInfo(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        True,
        ("ds",),
        ("all",),
        subresources=(Subresource("status", "DaemonSet", _STATUS_VERBS),),
    ),
    ResourceInfo("apps", "v1", "ControllerRevision", "controllerrevisions", True),
)

BY_KEY: dict[str, ResourceInfo] = {r.key: r for r in RESOURCES}
BY_PATH: dict[tuple[str, str, str], ResourceInfo] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND: dict[tuple[str, str], ResourceInfo] = {(r.api_version, r.kind): r for r in RESOURCES}


def group_versions() -> list[tuple[str, str]]:
    """The (group, version) pairs served, core first, in a stable order."""
    seen: dict[tuple[str, str], None] = {}
    for r in RESOURCES:
        seen.setdefault((r.group, r.version), None)
    return list(seen)
