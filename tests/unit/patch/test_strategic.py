"""Strategic merge patch: every rule and directive, on real DaemonSet, Node and Pod objects."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniplane.patch import PatchError, strategic_merge_patch
from miniplane.schema.definitions import FieldSchema, kind_schema

from .objects import ABSENT, DAEMONSET, LOG_ARGS, NODE, OBJECTS, at, directive_keys

TEMPLATE_SPEC = "/spec/template/spec"
LOG = f"{TEMPLATE_SPEC}/containers/0"


def patch_kind(kind: str, patch: dict[str, Any]) -> dict[str, Any]:
    target, api_version = OBJECTS[kind]
    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    result = strategic_merge_patch(target, patch, kind_schema(api_version, kind))
    assert target == before_target, "the target was modified"
    assert patch == before_patch, "the patch was modified"
    assert directive_keys(result) == []
    return result


def case(kind: str, patch: dict[str, Any], expected: dict[str, Any], id: str) -> Any:  # noqa: A002
    return pytest.param(kind, patch, expected, id=id)


def pod_spec(**fields: Any) -> dict[str, Any]:
    """A DaemonSet patch of ``spec.template.spec``."""
    return {"spec": {"template": {"spec": fields}}}


def container(name: str, **fields: Any) -> dict[str, Any]:
    """A DaemonSet patch of one container, merged by name."""
    return pod_spec(containers=[{"name": name, **fields}])


ENV = DAEMONSET["spec"]["template"]["spec"]["containers"][0]["env"]
RESTARTED = {"kubectl.kubernetes.io/restartedAt": "2026-11-24T07:07:17Z"}
UNDO_TEMPLATE = {
    "metadata": {"labels": {"app": "log-collector"}},
    "spec": {
        "containers": [{"args": LOG_ARGS, "image": "busybox", "name": "log-collector", "resources": {}}],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
    },
}

CASES = [
    # maps
    case("DaemonSet", {"spec": {"minReadySeconds": 3}}, {"/spec/minReadySeconds": 3}, "patch-scalar"),
    case(
        "DaemonSet",
        {"spec": {"minReadySeconds": None}, "metadata": {"annotations": {"team": None, "new": "x"}}},
        {
            "/spec/minReadySeconds": ABSENT,
            "/metadata/annotations/team": ABSENT,
            "/metadata/annotations/new": "x",
        },
        "null-deletes-and-maps-merge",
    ),
    case(
        "DaemonSet",
        pod_spec(nodeSelector={"disk": "ssd", "gone": None}),
        {f"{TEMPLATE_SPEC}/nodeSelector": {"disk": "ssd"}},
        "new-map-drops-its-nulls",
    ),
    case(
        "DaemonSet",
        {"spec": {"template": {"metadata": {"annotations": RESTARTED}}}},
        {"/spec/template/metadata": {"labels": {"app": "log-collector"}, "annotations": RESTARTED}},
        "rollout-restart",
    ),
    # containers merge by name
    case(
        "DaemonSet",
        pod_spec(
            **{"$setElementOrder/containers": [{"name": "log-collector"}]},
            containers=[{"image": "busybox:1.36", "name": "log-collector"}],
        ),
        {
            f"{LOG}/image": "busybox:1.36",
            f"{LOG}/args": LOG_ARGS,
            f"{LOG}/env": ENV,
            f"{TEMPLATE_SPEC}/containers/1/name": "sidecar",
        },
        "apply-image-change-keeps-args",
    ),
    case(
        "DaemonSet",
        pod_spec(
            **{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "log-collector"}]},
            containers=[{"name": "sidecar", "image": "busybox:2"}],
        ),
        {
            f"{TEMPLATE_SPEC}/containers/0": {
                "name": "sidecar",
                "image": "busybox:2",
                "command": ["sleep", "infinity"],
            },
            f"{TEMPLATE_SPEC}/containers/1/name": "log-collector",
        },
        "set-element-order-reorders",
    ),
    case(
        "DaemonSet",
        pod_spec(**{"$setElementOrder/containers": [{"name": "new"}]}, containers=[{"name": "new", "image": "x"}]),
        {f"{TEMPLATE_SPEC}/containers/0/name": "new", f"{TEMPLATE_SPEC}/containers/2/name": "sidecar"},
        "set-element-order-unnamed-items-keep-order-after",
    ),
    case(
        "DaemonSet",
        container("sidecar", **{"$patch": "delete"}),
        {f"{TEMPLATE_SPEC}/containers/1": ABSENT, f"{LOG}/name": "log-collector"},
        "container-patch-delete",
    ),
    case(
        "DaemonSet",
        pod_spec(containers=[{"$patch": "replace"}, {"name": "only", "image": "x"}]),
        {f"{TEMPLATE_SPEC}/containers": [{"name": "only", "image": "x"}]},
        "list-patch-replace",
    ),
    # nested keyed lists
    case(
        "DaemonSet",
        container("log-collector", env=[{"name": "A", "value": "9"}, {"name": "C", "value": "3"}]),
        {
            f"{LOG}/env": [
                {"name": "A", "value": "9"},
                {"name": "B", "value": "2"},
                {"name": "C", "value": "3"},
            ],
            f"{LOG}/args": LOG_ARGS,
        },
        "env-merge-by-name",
    ),
    case(
        "DaemonSet",
        container("log-collector", env=[{"$patch": "delete", "name": "A"}]),
        {f"{LOG}/env": [{"name": "B", "value": "2"}]},
        "env-patch-delete",
    ),
    case(
        "DaemonSet",
        container("log-collector", env=[{"name": "A", "value": None, "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]),
        {f"{LOG}/env/0": {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}},
        "env-item-null-field-deletes",
    ),
    case(
        "DaemonSet",
        container("log-collector", ports=[{"containerPort": 9090, "protocol": "UDP"}, {"containerPort": 7070}]),
        {
            f"{LOG}/ports": [
                {"containerPort": 8080, "protocol": "TCP"},
                {"containerPort": 9090, "name": "metrics", "protocol": "UDP"},
                {"containerPort": 7070},
            ]
        },
        "ports-merge-by-container-port",
    ),
    case(
        "DaemonSet",
        container(
            "log-collector",
            volumeMounts=[
                {"mountPath": "/var/log", "readOnly": True},
                {"name": "data", "mountPath": "/data"},
            ],
        ),
        {
            f"{LOG}/volumeMounts": [
                {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
                {"name": "data", "mountPath": "/data"},
            ]
        },
        "volume-mounts-merge-by-mount-path",
    ),
    # atomic lists
    case("DaemonSet", container("log-collector", args=["--once"]), {f"{LOG}/args": ["--once"]}, "args-atomic"),
    case(
        "DaemonSet",
        container("sidecar", command=["sleep"]),
        {f"{TEMPLATE_SPEC}/containers/1/command": ["sleep"]},
        "command-atomic",
    ),
    case(
        "DaemonSet",
        pod_spec(tolerations=[{"operator": "Exists"}]),
        {f"{TEMPLATE_SPEC}/tolerations": [{"operator": "Exists"}]},
        "tolerations-atomic",
    ),
    case(
        "DaemonSet",
        pod_spec(tolerations=[{"$patch": "replace"}, {"key": "a", "operator": "Exists", "x": None}]),
        {f"{TEMPLATE_SPEC}/tolerations": [{"key": "a", "operator": "Exists"}]},
        "atomic-list-items-are-cleaned",
    ),
    # map directives
    case(
        "DaemonSet",
        {"spec": {"template": {"$patch": "replace", **UNDO_TEMPLATE}}},
        {"/spec/template": UNDO_TEMPLATE, "/spec/updateStrategy/type": "RollingUpdate"},
        "rollout-undo-replaces-template",
    ),
    case(
        "DaemonSet",
        {"spec": {"updateStrategy": {"$patch": "delete"}}},
        {"/spec/updateStrategy": ABSENT, "/spec/selector": {"matchLabels": {"app": "log-collector"}}},
        "map-patch-delete",
    ),
    case(
        "DaemonSet",
        {"spec": {"updateStrategy": {"$patch": "merge", "type": "OnDelete"}}},
        {"/spec/updateStrategy": {"type": "OnDelete", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
        "map-patch-merge-is-ignored",
    ),
    case(
        "DaemonSet",
        {"spec": {"updateStrategy": {"$retainKeys": ["type"], "type": "OnDelete"}}},
        {"/spec/updateStrategy": {"type": "OnDelete"}},
        "retain-keys-drops-other-keys",
    ),
    case(
        "DaemonSet",
        pod_spec(
            **{"$setElementOrder/volumes": [{"name": "varlog"}]},
            volumes=[{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "varlog"}],
        ),
        {f"{TEMPLATE_SPEC}/volumes": [{"name": "varlog", "emptyDir": {}}]},
        "retain-keys-switches-volume-source",
    ),
    # primitive merge lists
    case(
        "DaemonSet",
        {"metadata": {"finalizers": ["example.com/new", "example.com/keep"]}},
        {"/metadata/finalizers": ["example.com/keep", "example.com/new"]},
        "finalizers-union",
    ),
    case(
        "DaemonSet",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/keep"], "finalizers": ["b"]}},
        {"/metadata/finalizers": ["b"]},
        "finalizers-delete-from-primitive-list",
    ),
    case(
        "DaemonSet",
        {"metadata": {"$setElementOrder/finalizers": ["b", "example.com/keep"], "finalizers": ["b"]}},
        {"/metadata/finalizers": ["b", "example.com/keep"]},
        "finalizers-set-element-order",
    ),
    # Node
    case(
        "Node",
        {"spec": {"taints": [{"effect": "NoSchedule", "key": "a", "value": "b"}]}},
        {"/spec/taints": [{"effect": "NoSchedule", "key": "a", "value": "b"}]},
        "taint-full-list-replace",
    ),
    case(
        "Node",
        {"spec": {"taints": None}},
        {"/spec/taints": ABSENT, "/spec/podCIDR": "10.244.1.0/24"},
        "untaint",
    ),
    case("Node", {"spec": {"unschedulable": True}}, {"/spec/unschedulable": True}, "cordon"),
    case("Node", {"spec": {"unschedulable": None}}, {"/spec/unschedulable": ABSENT}, "uncordon"),
    case(
        "Node",
        {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}},
        {
            "/status/conditions/0/type": "MemoryPressure",
            "/status/conditions/1": {
                "type": "Ready",
                "status": "False",
                "reason": "KubeletNotReady",
                "message": "kubelet is ready",
            },
        },
        "node-conditions-merge-by-type",
    ),
    case(
        "Node",
        {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}},
        {
            "/status/addresses": [
                {"type": "InternalIP", "address": "10.0.0.2"},
                {"type": "Hostname", "address": "node-1"},
            ]
        },
        "node-addresses-merge-by-type",
    ),
    case(
        "Node",
        {"spec": {"podCIDRs": ["fd00::/64"]}},
        {"/spec/podCIDRs": ["10.244.1.0/24", "fd00::/64"]},
        "pod-cidrs-union",
    ),
    case(
        "Node",
        {"metadata": {"labels": {"accelerator": None, "py": "yes"}}},
        {"/metadata/labels": {"kubernetes.io/hostname": "node-1", "py": "yes"}},
        "node-labels",
    ),
    # Pod
    case(
        "Pod",
        {
            "metadata": {
                "ownerReferences": [
                    {"uid": "ds-uid", "blockOwnerDeletion": False},
                    {"uid": "u2", "name": "n"},
                ]
            }
        },
        {
            "/metadata/ownerReferences/0/blockOwnerDeletion": False,
            "/metadata/ownerReferences/0/controller": True,
            "/metadata/ownerReferences/1": {"uid": "u2", "name": "n"},
        },
        "owner-references-merge-by-uid",
    ),
    case(
        "Pod",
        {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "ds-uid"}]}},
        {"/metadata/ownerReferences": []},
        "owner-reference-delete-by-uid",
    ),
    case(
        "Pod",
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"},
                ]
            }
        },
        {
            "/status/conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
            ]
        },
        "pod-conditions-merge-by-type",
    ),
    case(
        "Pod",
        {"status": {"podIPs": [{"ip": "fd00::5"}]}},
        {"/status/podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]},
        "pod-ips-merge-by-ip",
    ),
    case(
        "Pod",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}},
        {"/metadata/finalizers": []},
        "pod-finalizer-removed",
    ),
    case(
        "Pod",
        {"spec": {"tolerations": None}, "status": {"phase": "Succeeded"}},
        {"/spec/tolerations": ABSENT, "/status/phase": "Succeeded"},
        "pod-tolerations-null",
    ),
]


@pytest.mark.parametrize(("kind", "patch", "expected"), CASES)
def test_strategic_merge_patch(kind: str, patch: dict[str, Any], expected: dict[str, Any]) -> None:
    result = patch_kind(kind, patch)
    for pointer, value in expected.items():
        assert at(result, pointer) == value, pointer


def test_unpatched_fields_are_kept() -> None:
    result = patch_kind("DaemonSet", {"spec": {"minReadySeconds": 3}})
    assert result == {**DAEMONSET, "spec": {**DAEMONSET["spec"], "minReadySeconds": 3}}


def test_result_shares_nothing_with_the_inputs() -> None:
    patch = {"spec": {"template": {"spec": {"nodeSelector": {"a": "b"}}}}}
    result = strategic_merge_patch(DAEMONSET, patch, kind_schema("apps/v1", "DaemonSet"))
    result["spec"]["template"]["spec"]["nodeSelector"]["a"] = "changed"
    result["spec"]["template"]["spec"]["containers"][0]["env"].clear()
    result["metadata"]["annotations"]["team"] = "changed"
    assert patch["spec"]["template"]["spec"]["nodeSelector"] == {"a": "b"}
    assert DAEMONSET["spec"]["template"]["spec"]["containers"][0]["env"]
    assert DAEMONSET["metadata"]["annotations"]["team"] == "obs"


def test_root_patch_replace_and_delete() -> None:
    schema = kind_schema("v1", "Node")
    assert strategic_merge_patch(NODE, {"$patch": "replace", "kind": "Node", "x": None}, schema) == {"kind": "Node"}
    assert strategic_merge_patch(NODE, {"$patch": "delete"}, schema) == {}


def test_unknown_schema_position_merges_maps_and_replaces_lists() -> None:
    target = {"a": {"b": 1, "c": [1, 2]}}
    assert strategic_merge_patch(target, {"a": {"c": [3], "d": 4}}, FieldSchema(None)) == {
        "a": {"b": 1, "c": [3], "d": 4}
    }


@pytest.mark.parametrize(
    ("kind", "patch", "message"),
    [
        pytest.param("DaemonSet", {"spec": {"$patch": "bogus"}}, "unknown $patch directive", id="unknown-patch-value"),
        pytest.param(
            "DaemonSet",
            {"spec": {"$foo": 1}},
            "unknown strategic merge patch directive",
            id="unknown-directive",
        ),
        pytest.param(
            "DaemonSet",
            {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}}},
            "merge key",
            id="delete-item-without-merge-key",
        ),
        pytest.param(
            "DaemonSet",
            {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
            "lacks the merge key 'name'",
            id="item-without-merge-key",
        ),
        pytest.param("DaemonSet", {"spec": {"$retainKeys": "type"}}, "list of strings", id="retain-keys-not-a-list"),
        pytest.param(
            "DaemonSet",
            {"spec": {"updateStrategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}},
            "does not name the patched fields ['rollingUpdate']",
            id="retain-keys-misses-a-patched-field",
        ),
        pytest.param(
            "DaemonSet",
            {"metadata": {"$setElementOrder/finalizers": "a"}},
            "must be a list",
            id="order-not-a-list",
        ),
        pytest.param(
            "DaemonSet",
            {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
            "must be a list",
            id="delete-list-not-a-list",
        ),
        pytest.param(
            "Node",
            {"metadata": {"finalizers": [{"$patch": "delete", "x": 1}]}},
            "merge key",
            id="primitive-list-delete-item",
        ),
    ],
)
def test_malformed_patches_are_rejected(kind: str, patch: dict[str, Any], message: str) -> None:
    target, api_version = OBJECTS[kind]
    with pytest.raises(PatchError, match=message.replace("$", r"\$").replace("[", r"\[")) as info:
        strategic_merge_patch(target, patch, kind_schema(api_version, kind))
    assert info.value.code == 400


def test_non_object_patch_is_rejected() -> None:
    with pytest.raises(PatchError):
        strategic_merge_patch(NODE, [], kind_schema("v1", "Node"))  # type: ignore[arg-type]


# --- property: no directive ever survives ---------------------------------------------------------------

FIELDS = "spec template metadata containers name image env args finalizers labels tolerations updateStrategy type"
FIELDS += " volumes hostPath value"
PATHS = [
    ["spec", "template", "spec", "containers"],
    ["spec", "template", "spec", "containers", "*", "env"],
    ["spec", "template", "spec", "volumes"],
    ["spec", "template", "spec", "tolerations"],
    ["spec", "template"],
    ["spec", "updateStrategy"],
    ["metadata", "finalizers"],
    ["metadata"],
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["log-collector", "sidecar", "A", "x"])
)
field_names = st.sampled_from(FIELDS.split())
directives = st.one_of(
    st.tuples(st.just("$patch"), st.sampled_from(["replace", "delete", "merge"])),
    st.tuples(
        field_names.map("$setElementOrder/".__add__),
        st.lists(st.one_of(scalars, st.fixed_dictionaries({"name": scalars})), max_size=3),
    ),
    st.tuples(field_names.map("$deleteFromPrimitiveList/".__add__), st.lists(scalars, max_size=3)),
    st.tuples(st.just("$retainKeys"), st.lists(field_names, max_size=4)),
)


def with_directives(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda fields, extra, name: {**fields, **dict(extra), **name},
        st.dictionaries(field_names, children, max_size=3),
        st.lists(directives, max_size=2),
        st.one_of(st.just({}), st.fixed_dictionaries({"name": st.sampled_from(["log-collector", "sidecar", "new"])})),
    )


values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=3) | with_directives(children), max_leaves=12
)


def nest(path: list[str], value: Any) -> Any:
    for key in reversed(path):
        value = [value] if key == "*" else {key: value}
    return value


patches = st.one_of(with_directives(values), st.builds(nest, st.sampled_from(PATHS), values))


@settings(max_examples=400, deadline=None)
@given(patch=patches)
def test_no_directive_survives(patch: dict[str, Any]) -> None:
    before = copy.deepcopy(patch)
    try:
        result = strategic_merge_patch(DAEMONSET, patch, kind_schema("apps/v1", "DaemonSet"))
    except PatchError:
        return
    assert directive_keys(result) == []
    assert patch == before
