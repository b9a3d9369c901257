"""The OpenAPI v3 index and per-group-version documents kubectl reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from miniplane.resources.registry import RESOURCES, ResourceInfo, group_versions
from miniplane.schema.openapi import (
    COMPONENT_PREFIX,
    PATCH_CONTENT_TYPES,
    gv_path,
    openapi_document,
    openapi_index,
)

DS_PATH = "/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"
POD_PATH = "/api/v1/namespaces/{namespace}/pods/{name}"
GV_PATHS = sorted({gv_path(g, v) for g, v in group_versions()} | {"apis/policy/v1"})


def document(gv: str) -> dict[str, Any]:
    body = openapi_document(gv)
    assert body is not None, gv
    doc: dict[str, Any] = orjson.loads(body)
    return doc


def operations(doc: dict[str, Any], method: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        if method in item:
            yield path, item[method]


def walk(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` anywhere in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from walk(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v, key)


def item_path(r: ResourceInfo) -> str:
    scope = "/namespaces/{namespace}" if r.namespaced else ""
    return f"{r.group_version_path}{scope}/{r.plural}/{{name}}"


def param_names(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in op["parameters"] if p["in"] == "query"}


def test_index_lists_every_group_version_with_its_hash() -> None:
    paths = openapi_index()["paths"]
    assert sorted(paths) == GV_PATHS
    for gv, entry in paths.items():
        url, _, digest = entry["serverRelativeURL"].partition("?hash=")
        assert url == f"/openapi/v3/{gv}"
        assert len(digest) == 128
    assert openapi_index() == openapi_index()
    assert len({e["serverRelativeURL"].rpartition("=")[2] for e in paths.values()}) == len(paths)


@pytest.mark.parametrize("gv", ["", "api/v2", "apis/apps/v1beta1", "apis/batch/v1"])
def test_unknown_group_version_has_no_document(gv: str) -> None:
    assert openapi_document(gv) is None


def test_documents_are_cached_and_tolerate_slashes() -> None:
    assert openapi_document("apis/apps/v1") is openapi_document("/apis/apps/v1/")


@pytest.mark.parametrize("r", RESOURCES, ids=lambda r: f"{r.api_version}/{r.kind}")
def test_every_kind_has_a_patch_operation_kubectl_accepts(r: ResourceInfo) -> None:
    doc = document(gv_path(r.group, r.version))
    patch = doc["paths"][item_path(r)]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": r.group,
        "version": r.version,
        "kind": r.kind,
    }
    assert patch["x-kubernetes-action"] == "patch"
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= param_names(patch)
    assert set(patch["requestBody"]["content"]) == set(PATCH_CONTENT_TYPES)
    schema = doc["components"]["schemas"][
        patch["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].removeprefix(COMPONENT_PREFIX)
    ]
    assert {"group": r.group, "version": r.version, "kind": r.kind} in schema["x-kubernetes-group-version-kind"]


@pytest.mark.parametrize("gv", GV_PATHS)
def test_every_patch_operation_carries_gvk_and_field_validation(gv: str) -> None:
    # kubectl stops at the first PATCH operation matching the GVK, so subresources need it as well.
    for path, op in operations(document(gv), "patch"):
        assert "x-kubernetes-group-version-kind" in op, path
        assert "fieldValidation" in param_names(op), path


@pytest.mark.parametrize("r", RESOURCES, ids=lambda r: f"{r.api_version}/{r.kind}")
def test_collection_item_and_all_namespaces_paths(r: ResourceInfo) -> None:
    paths = document(gv_path(r.group, r.version))["paths"]
    collection = item_path(r).removesuffix("/{name}")
    assert {paths[collection][m]["x-kubernetes-action"] for m in ("get", "post", "delete")} == {
        "list",
        "post",
        "deletecollection",
    }
    assert {"labelSelector", "watch", "sendInitialEvents"} <= param_names(paths[collection]["get"])
    assert {m: paths[item_path(r)][m]["x-kubernetes-action"] for m in ("get", "put", "delete")} == {
        "get": "get",
        "put": "put",
        "delete": "delete",
    }
    if r.namespaced:
        assert paths[f"{r.group_version_path}/{r.plural}"]["get"]["x-kubernetes-action"] == "list"


@pytest.mark.parametrize(
    ("path", "method", "gvk", "action"),
    [
        (DS_PATH + "/status", "patch", ("apps", "v1", "DaemonSet"), "patch"),
        ("/api/v1/nodes/{name}/status", "put", ("", "v1", "Node"), "put"),
        (POD_PATH + "/eviction", "post", ("policy", "v1", "Eviction"), "post"),
        (POD_PATH + "/binding", "post", ("", "v1", "Binding"), "post"),
        (POD_PATH + "/log", "get", ("", "v1", "Pod"), "get"),
        (POD_PATH + "/exec", "post", ("", "v1", "PodExecOptions"), "connect"),
    ],
)  # fmt: skip
def test_subresource_operations(path: str, method: str, gvk: tuple[str, str, str], action: str) -> None:
    gv = "apis/apps/v1" if path.startswith("/apis/apps/") else "api/v1"
    op = document(gv)["paths"][path][method]
    assert op["x-kubernetes-group-version-kind"] == dict(zip(("group", "version", "kind"), gvk, strict=True))
    assert op["x-kubernetes-action"] == action


def test_policy_document_holds_the_eviction_schema() -> None:
    schemas = document("apis/policy/v1")["components"]["schemas"]
    assert {"group": "policy", "version": "v1", "kind": "Eviction"} in schemas["io.k8s.api.policy.v1.Eviction"][
        "x-kubernetes-group-version-kind"
    ]


@pytest.mark.parametrize("gv", GV_PATHS)
def test_every_ref_resolves_inside_the_document(gv: str) -> None:
    doc = document(gv)
    schemas = doc["components"]["schemas"]
    refs = [ref for ref in walk(doc, "$ref") if isinstance(ref, str)]
    assert refs
    for ref in refs:
        assert ref.startswith(COMPONENT_PREFIX), ref
        assert ref.removeprefix(COMPONENT_PREFIX) in schemas, ref


@pytest.mark.parametrize("gv", GV_PATHS)
def test_no_null_types_remain(gv: str) -> None:
    doc = document(gv)
    types = [t for t in walk(doc, "type") if not isinstance(t, dict)]
    assert types
    assert all(isinstance(t, str) and t != "null" for t in types)
    assert doc["openapi"] == "3.0.0"


def test_components_keep_upstream_shapes() -> None:
    schemas = document("apis/apps/v1")["components"]["schemas"]
    ds = schemas["io.k8s.api.apps.v1.DaemonSet"]
    assert ds["type"] == "object"
    assert isinstance(ds["x-kubernetes-group-version-kind"], list)
    assert ds["properties"]["spec"]["$ref"] == COMPONENT_PREFIX + "io.k8s.api.apps.v1.DaemonSetSpec"
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    assert "io.k8s.api.core.v1.Node" not in schemas
