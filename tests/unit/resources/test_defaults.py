"""Defaulting: the shapes ``kubectl get -o yaml`` shows after a create (daemonset-behaviour.md §6.2)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from miniplane.resources.defaults import apply_defaults, image_tag
from miniplane.resources.validation import validate

EXAMPLES = Path("/work/shared/examples")
SEED = EXAMPLES / "log-collector-daemonset.yaml"


def load(path: Path) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load(path.read_text())
    obj["metadata"].setdefault("namespace", "default")
    return obj


def defaulted(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    apply_defaults(kind, obj)
    return obj


def daemonset(**spec: Any) -> dict[str, Any]:
    ds = load(SEED)
    ds["spec"].update(spec)
    return ds


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": list(containers) or [{"name": "c", "image": "busybox"}], **spec},
    }


def test_seed_daemonset_gets_exactly_the_kubectl_shape() -> None:
    ds = defaulted("DaemonSet", load(SEED))
    assert ds["spec"] == {
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "log-collector"}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "log-collector"}},
            "spec": {
                "containers": [
                    {
                        "name": "log-collector",
                        "image": "busybox",
                        "args": [
                            "/bin/sh",
                            "-c",
                            'while true; do echo $(date) "Log message from $(hostname)"; sleep 5; done',
                        ],
                        "imagePullPolicy": "Always",
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
        },
    }
    assert ds["metadata"] == {"name": "simple-log-collector", "namespace": "default"}  # the lead's strategy adds more


def test_max_surge_alone_is_invalid_after_defaulting() -> None:
    ds = defaulted("DaemonSet", daemonset(updateStrategy={"rollingUpdate": {"maxSurge": 1}}))
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 1}
    assert validate("DaemonSet", ds) == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.updateStrategy.rollingUpdate.maxSurge",
            "message": "Invalid value: 1: may not be set when maxUnavailable is non-zero",
        }
    ]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        pytest.param(
            None, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}, id="absent"
        ),
        pytest.param({"type": "OnDelete"}, {"type": "OnDelete"}, id="on-delete-gets-no-rolling-update"),
        pytest.param(
            {"rollingUpdate": {"maxUnavailable": "25%"}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}},
            id="type-and-missing-half-filled",
        ),
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}},
            id="explicit-zero-kept",
        ),
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": None},
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            id="null-rolling-update",
        ),
    ],
)
def test_update_strategy(strategy: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    ds = daemonset() if strategy is None else daemonset(updateStrategy=strategy)
    assert defaulted("DaemonSet", ds)["spec"]["updateStrategy"] == expected


def test_revision_history_limit_kept_when_set() -> None:
    assert defaulted("DaemonSet", daemonset(revisionHistoryLimit=0))["spec"]["revisionHistoryLimit"] == 0


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        pytest.param("busybox", "Always", id="no-tag"),
        pytest.param("busybox:latest", "Always", id="latest"),
        pytest.param("busybox:1.36", "IfNotPresent", id="tag"),
        pytest.param("python:3.11-slim", "IfNotPresent", id="tag-with-dots"),
        pytest.param("localhost:5000/img", "Always", id="registry-port-no-tag"),
        pytest.param("registry.example.com:5000/team/img:v2", "IfNotPresent", id="registry-port-and-tag"),
        pytest.param("img@sha256:" + "a" * 64, "IfNotPresent", id="digest"),
        pytest.param("img:latest@sha256:" + "b" * 64, "Always", id="latest-with-digest"),
        pytest.param("Busybox", "IfNotPresent", id="unparsable-uppercase"),
        pytest.param("", "IfNotPresent", id="empty"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    obj = defaulted("Pod", pod({"name": "c", "image": image}))
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_image_tag() -> None:
    assert image_tag("host:5000/img:v1") == "v1"
    assert image_tag("img") == "latest"


def test_explicit_pull_policy_kept() -> None:
    obj = defaulted("Pod", pod({"name": "c", "image": "busybox", "imagePullPolicy": "Never"}))
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_container_defaults_cover_ports_probes_hooks_env() -> None:
    container = {
        "name": "c",
        "image": "busybox:1",
        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        "readinessProbe": {"httpGet": {"port": 80}, "periodSeconds": 2, "timeoutSeconds": 0},
        "livenessProbe": {"grpc": {"port": 9000}},
        "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
    }
    ds = defaulted("DaemonSet", daemonset())
    ds["spec"]["template"]["spec"]["containers"] = [container]
    c = defaulted("DaemonSet", ds)["spec"]["template"]["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]
    assert c["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "periodSeconds": 2,
        "timeoutSeconds": 1,  # Go's zero value counts as unset
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["livenessProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert c["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/stop", "scheme": "HTTP"}
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        pytest.param({"name": "v"}, {"name": "v", "emptyDir": {}}, id="no-source-is-empty-dir"),
        pytest.param({"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}, id="empty-dir-stays"),
        pytest.param(
            {"name": "v", "emptyDir": {"sizeLimit": "1024Mi"}},
            {"name": "v", "emptyDir": {"sizeLimit": "1Gi"}},
            id="size-limit-canonical",
        ),
        pytest.param(
            {"name": "v", "secret": {"secretName": "s"}},
            {"name": "v", "secret": {"secretName": "s", "defaultMode": 420}},
            id="secret-mode",
        ),
        pytest.param(
            {"name": "v", "configMap": {"name": "c", "defaultMode": 256}},
            {"name": "v", "configMap": {"name": "c", "defaultMode": 256}},
            id="config-map-mode-kept",
        ),
        pytest.param(
            {"name": "v", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {
                "name": "v",
                "downwardAPI": {
                    "defaultMode": 420,
                    "items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}],
                },
            },
            id="downward-api",
        ),
        pytest.param(
            {"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            {
                "name": "v",
                "projected": {
                    "defaultMode": 420,
                    "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}],
                },
            },
            id="projected",
        ),
        pytest.param(
            {"name": "v", "hostPath": {"path": "/var/log"}},
            {"name": "v", "hostPath": {"path": "/var/log", "type": ""}},
            id="host-path-type",
        ),
    ],
)
def test_volume_defaults(volume: dict[str, Any], expected: dict[str, Any]) -> None:
    assert defaulted("Pod", pod(volumes=[volume]))["spec"]["volumes"] == [expected]


def test_resource_quantities_are_rounded_and_canonical() -> None:
    container = {
        "name": "c",
        "image": "i",
        "resources": {"limits": {"cpu": 0.5, "memory": "1024Mi"}, "requests": {"cpu": "0.0001"}},
    }
    resources = defaulted("DaemonSet", daemonset(template={"spec": {"containers": [container]}}))
    got = resources["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert got == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "1m"}}


def test_unparsable_quantity_is_left_for_validation() -> None:
    container = {"name": "c", "image": "i", "resources": {"limits": {"cpu": "lots"}}}
    obj = defaulted("Pod", pod(container))
    assert obj["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "lots"}, "requests": {"cpu": "lots"}}


def test_pod_only_defaults() -> None:
    obj = defaulted("Pod", pod())
    spec = obj["spec"]
    assert spec["enableServiceLinks"] is True
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["priority"] == 0
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert "volumes" not in spec  # no service-account token volume


def test_templates_do_not_get_pod_only_defaults() -> None:
    spec = defaulted("DaemonSet", daemonset())["spec"]["template"]["spec"]
    for key in ("enableServiceLinks", "serviceAccountName", "priority", "preemptionPolicy"):
        assert key not in spec


def test_requests_copied_from_limits_only_where_missing() -> None:
    resources = {"limits": {"cpu": "200m", "memory": "64Mi"}, "requests": {"cpu": "50m"}}
    init = {"name": "i", "image": "busybox", "resources": {"limits": {"memory": "1Gi"}}}
    obj = defaulted("Pod", pod({"name": "c", "image": "busybox", "resources": resources}, initContainers=[init]))
    assert obj["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "50m", "memory": "64Mi"}
    assert obj["spec"]["initContainers"][0]["resources"]["requests"] == {"memory": "1Gi"}


def test_host_network_pod_ports_get_host_ports() -> None:
    container = {"name": "c", "image": "i", "ports": [{"containerPort": 9100}, {"containerPort": 53, "hostPort": 5353}]}
    ports = defaulted("Pod", pod(container, hostNetwork=True))["spec"]["containers"][0]["ports"]
    assert [p["hostPort"] for p in ports] == [9100, 5353]


def test_host_network_template_ports_stay_without_host_port() -> None:
    template = {
        "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 1}]}]}
    }
    ds = defaulted("DaemonSet", daemonset(template=template))
    assert "hostPort" not in ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]


@pytest.mark.parametrize(
    ("spec", "priority"),
    [
        pytest.param({"priorityClassName": "system-node-critical"}, 2000001000, id="system-node-critical"),
        pytest.param({"priorityClassName": "system-cluster-critical"}, 2000000000, id="system-cluster-critical"),
        pytest.param({"priority": 7}, 7, id="explicit"),
        pytest.param({"priorityClassName": "custom"}, None, id="unknown-class-left-alone"),
    ],
)
def test_pod_priority(spec: dict[str, Any], priority: int | None) -> None:
    assert defaulted("Pod", pod(**spec))["spec"].get("priority") == priority


def test_service_account_aliases_kept_in_step() -> None:
    assert defaulted("Pod", pod(serviceAccount="agent"))["spec"]["serviceAccountName"] == "agent"
    template = {"spec": {"serviceAccountName": "agent", "containers": [{"name": "c", "image": "i"}]}}
    spec = defaulted("DaemonSet", daemonset(template=template))["spec"]["template"]["spec"]
    assert spec["serviceAccount"] == "agent"


def test_node_allocatable_defaults_to_capacity() -> None:
    node = defaulted("Node", {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4", "memory": "8192Mi"}}})
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}
    explicit = {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3500m"}}}
    assert defaulted("Node", explicit)["status"]["allocatable"] == {"cpu": "3500m"}


def test_namespace_defaults() -> None:
    ns = defaulted("Namespace", {"metadata": {"name": "team-a"}})
    assert ns == {
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    terminating = {"metadata": {"name": "x"}, "spec": {"finalizers": []}, "status": {"phase": "Terminating"}}
    assert defaulted("Namespace", terminating)["status"] == {"phase": "Terminating"}
    assert terminating["spec"] == {"finalizers": []}


@pytest.mark.parametrize("kind", ["Lease", "Event", "ControllerRevision", "Unknown"])
def test_kinds_without_defaults_are_untouched(kind: str) -> None:
    obj = {"metadata": {"name": "x"}, "spec": {"holderIdentity": "n1"}, "data": {"a": 1}}
    assert defaulted(kind, copy.deepcopy(obj)) == obj


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_defaulting_is_idempotent_and_examples_stay_valid(path: Path) -> None:
    obj = defaulted("DaemonSet", load(path))
    assert defaulted("DaemonSet", copy.deepcopy(obj)) == obj
    assert validate("DaemonSet", obj) == []


def test_pod_defaulting_is_idempotent() -> None:
    obj = defaulted("Pod", pod({"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}, hostNetwork=True))
    assert defaulted("Pod", copy.deepcopy(obj)) == obj


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        pytest.param("DaemonSet", {"spec": "nonsense"}, id="spec-not-object"),
        pytest.param("DaemonSet", {"spec": {"updateStrategy": 5, "template": {"spec": []}}}, id="nested-not-objects"),
        pytest.param("Pod", {"spec": {"containers": "x", "volumes": [1, None]}}, id="lists-of-junk"),
        pytest.param("Pod", {"spec": {"containers": [{"resources": "x", "ports": [3]}]}}, id="container-junk"),
        pytest.param("Node", {"status": {"capacity": ["x"]}}, id="capacity-list"),
        pytest.param("Namespace", {"metadata": {"name": 3}}, id="name-not-string"),
    ],
)
def test_malformed_input_does_not_crash(kind: str, obj: dict[str, Any]) -> None:
    apply_defaults(kind, obj)
