"""``apply_patch``: Content-Type dispatch, and every PATCH body kubectl 1.37 sent (kubectl-transcripts.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from miniplane.patch import PatchError, UnsupportedPatchType, apply_patch
from miniplane.schema.definitions import kind_schema

from .objects import ABSENT, DAEMONSET, LOG_ARGS, NODE, OBJECTS, at, directive_keys

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

LAST_APPLIED = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"annotations": {}, "name": "simple-log-collector", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "log-collector"}},
        "template": {
            "metadata": {"labels": {"app": "log-collector"}},
            "spec": {"containers": [{"args": LOG_ARGS, "image": "busybox:1.36", "name": "log-collector"}]},
        },
    },
}
LAST_APPLIED_KEY = "kubectl.kubernetes.io/last-applied-configuration"
REVISION_TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "log-collector"}},
    "spec": {
        "containers": [
            {
                "args": LOG_ARGS,
                "image": "busybox",
                "imagePullPolicy": "Always",
                "name": "log-collector",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    },
}
LOG = "/spec/template/spec/containers/0"


def set_image(image: str) -> dict[str, Any]:
    """The body ``apply``, ``edit`` and ``set image`` send for an image change."""
    containers = [{"image": image, "name": "log-collector"}]
    order = [{"name": "log-collector"}]
    return {"spec": {"template": {"spec": {"$setElementOrder/containers": order, "containers": containers}}}}


def sent(kind: str, content_type: str, body: Any, expected: dict[str, Any], id: str) -> Any:  # noqa: A002
    return pytest.param(kind, content_type, json.dumps(body).encode(), expected, id=id)


TRANSCRIPT = [
    sent(
        "DaemonSet",
        SMP,
        {
            "metadata": {"annotations": {LAST_APPLIED_KEY: json.dumps(LAST_APPLIED, separators=(",", ":")) + "\n"}},
            **set_image("busybox:1.36"),
        },
        {f"{LOG}/image": "busybox:1.36", f"{LOG}/args": LOG_ARGS, "/metadata/annotations/team": "obs"},
        "apply-changed",
    ),
    sent(
        "DaemonSet",
        SMP,
        {"metadata": {"annotations": {}, "resourceVersion": "131"}, **set_image("busybox:1.36")},
        {f"{LOG}/image": "busybox:1.36", "/metadata/resourceVersion": "131"},
        "diff",
    ),
    sent("DaemonSet", SMP, set_image("busybox:edited"), {f"{LOG}/image": "busybox:edited"}, "edit"),
    sent("DaemonSet", SMP, set_image("busybox:1.37"), {f"{LOG}/image": "busybox:1.37"}, "set-image"),
    sent(
        "DaemonSet",
        SMP,
        {"spec": {"template": REVISION_TEMPLATE}},
        {f"{LOG}/image": "busybox", f"{LOG}/env/0/name": "A"},
        "rollout-undo-without-replace",
    ),
    sent(
        "DaemonSet",
        SMP,
        {"spec": {"template": {"$patch": "replace", **REVISION_TEMPLATE}}},
        {"/spec/template": REVISION_TEMPLATE},
        "rollout-undo-controller-revision-data",
    ),
    sent(
        "DaemonSet",
        SMP,
        {
            "spec": {
                "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-24T07:07:17Z"}}}
            }
        },
        {"/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt": "2026-11-24T07:07:17Z"},
        "rollout-restart",
    ),
    sent("DaemonSet", SMP, {"spec": {"minReadySeconds": 3}}, {"/spec/minReadySeconds": 3}, "patch"),
    sent("DaemonSet", MERGE, {"spec": {"minReadySeconds": 4}}, {"/spec/minReadySeconds": 4}, "patch-merge"),
    sent(
        "DaemonSet",
        JSON_PATCH,
        [{"op": "replace", "path": "/spec/minReadySeconds", "value": 5}],
        {"/spec/minReadySeconds": 5},
        "patch-json",
    ),
    sent(
        "DaemonSet",
        MERGE,
        {"metadata": {"annotations": {"foo": "bar"}}},
        {"/metadata/annotations/foo": "bar"},
        "annotate",
    ),
    sent(
        "DaemonSet",
        MERGE,
        {
            "status": {
                "observedGeneration": 0,
                "desiredNumberScheduled": 2,
                "currentNumberScheduled": 2,
                "updatedNumberScheduled": 0,
                "numberAvailable": 0,
                "numberReady": 0,
                "numberMisscheduled": 0,
            }
        },
        {"/status/numberReady": 0, "/status/currentNumberScheduled": 2},
        "status",
    ),
    sent(
        "DaemonSet",
        SMP,
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}},
        {"/spec/template/spec/containers/2": {"name": "c", "image": "busybox:2"}, f"{LOG}/image": "busybox"},
        "python-client-dict",
    ),
    sent(
        "DaemonSet",
        SMP,
        {"metadata": {"labels": {"w": "1"}}},
        {"/metadata/labels": {"w": "1"}},
        "python-client-label",
    ),
    sent(
        "Node",
        MERGE,
        {"metadata": {"labels": {"accelerator": "cpu"}}},
        {"/metadata/labels/accelerator": "cpu"},
        "label",
    ),
    sent(
        "Node",
        MERGE,
        {"metadata": {"labels": {"accelerator": None}}},
        {"/metadata/labels/accelerator": ABSENT},
        "unlabel",
    ),
    sent(
        "Node",
        SMP,
        {"spec": {"taints": [{"effect": "NoSchedule", "key": "a", "value": "b"}]}},
        {"/spec/taints": [{"effect": "NoSchedule", "key": "a", "value": "b"}]},
        "taint",
    ),
    sent("Node", SMP, {"spec": {"taints": None}}, {"/spec/taints": ABSENT}, "untaint"),
    sent("Node", SMP, {"spec": {"unschedulable": True}}, {"/spec/unschedulable": True}, "cordon"),
    sent("Node", SMP, {"spec": {"unschedulable": None}}, {"/spec/unschedulable": ABSENT}, "uncordon"),
    sent(
        "Node",
        SMP,
        {"metadata": {"labels": {"py": "yes"}}},
        {"/metadata/labels/py": "yes"},
        "python-client-node",
    ),
]


@pytest.mark.parametrize(("kind", "content_type", "body", "expected"), TRANSCRIPT)
def test_kubectl_bodies_apply_cleanly(kind: str, content_type: str, body: bytes, expected: dict[str, Any]) -> None:
    target, api_version = OBJECTS[kind]
    result = apply_patch(content_type, target, body, kind_schema(api_version, kind))
    assert directive_keys(result) == []
    for pointer, value in expected.items():
        assert at(result, pointer) == value, pointer


def test_content_type_parameters_are_ignored() -> None:
    result = apply_patch(f"{MERGE}; charset=utf-8", NODE, {"spec": {"unschedulable": None}}, kind_schema("v1", "Node"))
    assert "unschedulable" not in result["spec"]


@pytest.mark.parametrize("content_type", ["application/apply-patch+yaml", "application/json", "text/plain"])
def test_unsupported_content_types(content_type: str) -> None:
    with pytest.raises(UnsupportedPatchType):
        apply_patch(content_type, NODE, {}, kind_schema("v1", "Node"))


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        pytest.param(SMP, b"{not json", 400, id="undecodable"),
        pytest.param(SMP, b"[]", 400, id="smp-not-an-object"),
        pytest.param(JSON_PATCH, b"{}", 400, id="json-patch-not-a-list"),
        pytest.param(MERGE, b'"scalar"', 422, id="merge-result-not-an-object"),
        pytest.param(JSON_PATCH, b'[{"op": "replace", "path": "", "value": 1}]', 422, id="json-patch-result-scalar"),
        pytest.param(JSON_PATCH, b'[{"op": "test", "path": "/kind", "value": "Pod"}]', 422, id="json-patch-test-fails"),
    ],
)
def test_bad_bodies(content_type: str, body: bytes, code: int) -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(content_type, DAEMONSET, body, kind_schema("apps/v1", "DaemonSet"))
    assert info.value.code == code
