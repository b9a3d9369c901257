"""Discovery documents: aggregated v2 (``/api``, ``/apis``) and the legacy per-group-version ones.

kubectl asks for aggregated discovery first and needs its exact Content-Type; ``drain`` and the
Python dynamic client still read the legacy documents (kubectl-wire.md §2.1).
"""

from __future__ import annotations

from typing import Any

from miniplane.resources.registry import RESOURCES, ResourceInfo, group_versions

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# Served besides RESOURCES: the policy group exists only for pods/eviction.
_EXTRA_GROUPS = [("policy", "v1")]


def wants_aggregated(accept: str) -> bool:
    """Whether the Accept header asks for aggregated discovery v2."""
    return "as=APIGroupDiscoveryList" in accept and "v=v2" in accept


def _aggregated_resource(r: ResourceInfo) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        body["shortNames"] = list(r.short_names)
    if r.categories:
        body["categories"] = list(r.categories)
    if r.subresources:
        body["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {
                    "group": s.group or r.group,
                    "version": s.version or r.version,
                    "kind": s.kind,
                },
                "verbs": list(s.verbs),
            }
            for s in r.subresources
        ]
    return body


def _aggregated_group(group: str) -> dict[str, Any]:
    versions = []
    for g, v in group_versions() + _EXTRA_GROUPS:
        if g != group:
            continue
        resources = [_aggregated_resource(r) for r in RESOURCES if r.group == g and r.version == v]
        versions.append({"version": v, "resources": resources, "freshness": "Current"})
    return {"metadata": {"name": group}, "versions": versions}


def aggregated(core: bool) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` for ``/api`` (core) or ``/apis`` (named groups)."""
    groups = [""] if core else sorted({g for g, _ in group_versions() + _EXTRA_GROUPS if g})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_aggregated_group(g) for g in groups],
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """Legacy ``/api``."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in group_versions() + _EXTRA_GROUPS if g == group]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    """Legacy ``/apis``."""
    groups = sorted({g for g, _ in group_versions() + _EXTRA_GROUPS if g})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(g) for g in groups]}


def api_group(group: str) -> dict[str, Any] | None:
    """Legacy ``/apis/GROUP``."""
    if not any(g == group for g, _ in group_versions() + _EXTRA_GROUPS):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group)}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """Legacy ``/api/v1`` or ``/apis/GROUP/VERSION``; None if not served."""
    if (group, version) not in group_versions() + _EXTRA_GROUPS:
        return None
    resources: list[dict[str, Any]] = []
    for r in RESOURCES:
        if (r.group, r.version) != (group, version):
            continue
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for s in r.subresources:
            sub: dict[str, Any] = {
                "name": f"{r.plural}/{s.name}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": list(s.verbs),
            }
            if s.group:
                sub["group"], sub["version"] = s.group, s.version
            resources.append(sub)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
