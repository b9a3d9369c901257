"""The server-side apply approximation: create, merge with SMP lists, remove what a re-apply dropped."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from miniplane.patch import PatchError, server_side_apply
from miniplane.schema.definitions import kind_schema

from .objects import ABSENT, LOG_ARGS, at, directive_keys

SCHEMA = kind_schema("apps/v1", "DaemonSet")


def manifest(*, image: str = "busybox", env: list[Any] | None = None, **spec: Any) -> dict[str, Any]:
    """The log-collector DaemonSet as ``kubectl apply --server-side`` sends it."""
    container: dict[str, Any] = {"name": "log-collector", "image": image, "args": LOG_ARGS}
    if env is not None:
        container["env"] = env
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "simple-log-collector", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "log-collector"}},
            "template": {
                "metadata": {"labels": {"app": "log-collector"}},
                "spec": {"containers": [container]},
            },
            **spec,
        },
    }


def live(applied: dict[str, Any]) -> dict[str, Any]:
    """``applied`` as stored: defaults and other writers' fields added."""
    obj = copy.deepcopy(applied)
    obj["metadata"] |= {"uid": "u1", "resourceVersion": "7"}
    obj["metadata"]["finalizers"] = [*obj["metadata"].get("finalizers", []), "other.io/keep"]
    obj["metadata"]["labels"] = {"added-by": "kubectl-label"}
    obj["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    pod_spec = obj["spec"]["template"]["spec"]
    pod_spec["dnsPolicy"] = "ClusterFirst"
    pod_spec["containers"][0]["imagePullPolicy"] = "Always"
    pod_spec["containers"][0].setdefault("env", []).append({"name": "SET_BY_OTHERS", "value": "1"})
    obj["status"] = {"numberReady": 1}
    return obj


LOG = "/spec/template/spec/containers/0"
ENV_AB = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]


@pytest.mark.parametrize(
    ("last", "applied", "expected"),
    [
        pytest.param(
            manifest(),
            manifest(image="busybox:1.36"),
            {f"{LOG}/image": "busybox:1.36", f"{LOG}/args": LOG_ARGS, f"{LOG}/imagePullPolicy": "Always"},
            id="image-change-keeps-defaults",
        ),
        pytest.param(
            manifest(minReadySeconds=5),
            manifest(),
            {"/spec/minReadySeconds": ABSENT, "/spec/updateStrategy/type": "RollingUpdate"},
            id="dropped-field-is-removed",
        ),
        pytest.param(
            manifest(env=ENV_AB),
            manifest(env=[{"name": "B", "value": "3"}]),
            {f"{LOG}/env": [{"name": "B", "value": "3"}, {"name": "SET_BY_OTHERS", "value": "1"}]},
            id="dropped-list-item-is-removed-by-key",
        ),
        pytest.param(
            manifest(),
            manifest(updateStrategy={"type": "OnDelete"}),
            {"/spec/updateStrategy": {"type": "OnDelete", "rollingUpdate": {"maxUnavailable": 1}}},
            id="maps-merge-with-other-writers",
        ),
        pytest.param(
            {
                **manifest(),
                "metadata": {"name": "simple-log-collector", "finalizers": ["mine.io/a", "mine.io/b"]},
            },
            {**manifest(), "metadata": {"name": "simple-log-collector", "finalizers": ["mine.io/a"]}},
            {"/metadata/finalizers": ["mine.io/a", "other.io/keep"], "/metadata/uid": "u1"},
            id="dropped-set-value-is-removed",
        ),
        pytest.param(
            manifest(),
            {**manifest(), "metadata": {"name": "simple-log-collector", "labels": {"tier": "infra"}}},
            {"/metadata/labels": {"added-by": "kubectl-label", "tier": "infra"}, "/metadata/uid": "u1"},
            id="fields-of-others-are-kept",
        ),
        pytest.param(
            None,
            manifest(image="busybox:1.36"),
            {f"{LOG}/image": "busybox:1.36", "/status": {"numberReady": 1}},
            id="first-apply-merges",
        ),
    ],
)
def test_reapply(last: dict[str, Any] | None, applied: dict[str, Any], expected: dict[str, Any]) -> None:
    current = live(last or manifest())
    before = copy.deepcopy((current, applied, last))
    result = server_side_apply(current, applied, last, SCHEMA)
    assert before == (current, applied, last)
    assert directive_keys(result) == []
    for pointer, value in expected.items():
        assert at(result, pointer) == value, pointer


def test_create() -> None:
    applied = manifest(env=ENV_AB)
    result = server_side_apply(None, applied, None, SCHEMA)
    assert result == applied
    result["spec"]["template"]["spec"]["containers"][0]["env"].clear()
    assert applied["spec"]["template"]["spec"]["containers"][0]["env"] == ENV_AB


def test_create_ignores_a_stale_last_applied() -> None:
    assert server_side_apply(None, manifest(), manifest(minReadySeconds=3), SCHEMA) == manifest()


def test_dropped_container_is_removed_and_order_follows_the_manifest() -> None:
    two = manifest()
    two["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    result = server_side_apply(live(two), manifest(), two, SCHEMA)
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["log-collector"]


def test_atomic_lists_are_replaced() -> None:
    result = server_side_apply(live(manifest()), manifest(), manifest(), SCHEMA)
    applied = manifest()
    applied["spec"]["template"]["spec"]["containers"][0]["args"] = ["--once"]
    result = server_side_apply(result, applied, manifest(), SCHEMA)
    assert result["spec"]["template"]["spec"]["containers"][0]["args"] == ["--once"]


def test_reapplying_the_same_manifest_changes_nothing() -> None:
    current = live(manifest(env=ENV_AB))
    assert server_side_apply(current, manifest(env=ENV_AB), manifest(env=ENV_AB), SCHEMA) == current


def test_applied_must_be_an_object() -> None:
    with pytest.raises(PatchError):
        server_side_apply(None, [], None, SCHEMA)  # type: ignore[arg-type]
