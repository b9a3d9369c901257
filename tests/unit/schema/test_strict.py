"""Unknown-field and JSON-type checks behind ``fieldValidation``."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from miniplane.schema.strict import (
    MAX_FINDINGS,
    check_fields,
    decode_error_message,
    prune_unknown,
    strict_error_message,
    warning_headers,
)

EXAMPLES = Path("/work/shared/examples")

NODE = yaml.safe_load("""
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  uid: 5f0c3e9e-1c1d-4a43-9a43-1d8e2b1f7a10
  resourceVersion: "4711"
  creationTimestamp: "2026-11-24T07:04:42Z"
  labels: {kubernetes.io/hostname: worker-1, kubernetes.io/os: linux, gpu: "true"}
  annotations: {node.alpha.kubernetes.io/ttl: "0"}
  managedFields:
  - manager: kubelet
    operation: Update
    apiVersion: v1
    time: "2026-11-24T07:04:42Z"
    fieldsType: FieldsV1
    fieldsV1: {"f:metadata": {"f:labels": {".": {}, "f:gpu": {}}}}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24]
  providerID: miniplane://worker-1
  unschedulable: true
  taints:
  - {key: node.kubernetes.io/unschedulable, effect: NoSchedule, timeAdded: "2026-11-24T07:05:00Z"}
status:
  phase: Running
  capacity: {cpu: "4", memory: 8131288Ki, pods: "110", ephemeral-storage: 41152736Ki}
  allocatable: {cpu: 3800m, memory: 7.5Gi, pods: 110}
  conditions:
  - type: Ready
    status: "True"
    reason: KubeletReady
    message: kubelet is posting ready status
    lastHeartbeatTime: "2026-11-24T07:10:00Z"
    lastTransitionTime: "2026-11-24T07:04:42Z"
  addresses:
  - {type: InternalIP, address: 10.0.0.11}
  - {type: Hostname, address: worker-1}
  daemonEndpoints: {kubeletEndpoint: {Port: 10250}}
  nodeInfo:
    machineID: 7c1f
    systemUUID: 7c1f-uuid
    bootID: b00t
    kernelVersion: 6.1.0-26-amd64
    osImage: Debian GNU/Linux 12 (bookworm)
    containerRuntimeVersion: miniplane://0.1.0
    kubeletVersion: v1.37.0
    kubeProxyVersion: ""
    operatingSystem: linux
    architecture: amd64
    swap: {capacity: 0}
  images:
  - names: [docker.io/library/busybox:latest]
    sizeBytes: 2155000
  volumesInUse: []
  runtimeHandlers:
  - name: runc
    features: {recursiveReadOnlyMounts: true, userNamespaces: false}
  features: {supplementalGroupsPolicy: true}
""")

POD = yaml.safe_load("""
apiVersion: v1
kind: Pod
metadata:
  name: log-collector-x7k2p
  generateName: log-collector-
  namespace: default
  labels: {app: log-collector, controller-revision-hash: 6d9f7c, pod-template-generation: "1"}
  ownerReferences:
  - {apiVersion: apps/v1, kind: DaemonSet, name: log-collector, uid: 0b6f, controller: true,
     blockOwnerDeletion: true}
  finalizers: []
  deletionGracePeriodSeconds: 30
spec:
  nodeName: worker-1
  restartPolicy: Always
  terminationGracePeriodSeconds: 30
  dnsPolicy: ClusterFirst
  schedulerName: default-scheduler
  serviceAccountName: default
  priority: 0
  enableServiceLinks: true
  securityContext: {runAsUser: 1000, fsGroup: 2000}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchFields:
          - {key: metadata.name, operator: In, values: [worker-1]}
  tolerations:
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
  volumes:
  - name: varlog
    hostPath: {path: /var/log, type: ""}
  - name: cfg
    configMap: {name: cfg, defaultMode: 420, items: [{key: a, path: a.conf}]}
  containers:
  - name: log-collector
    image: busybox
    imagePullPolicy: Always
    command: [/bin/sh, -c]
    args: [while true; do sleep 5; done]
    env:
    - {name: NODE, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: spec.nodeName}}}
    ports:
    - {containerPort: 8080, hostPort: 8080, protocol: TCP, name: http}
    resources:
      limits: {cpu: 100m, memory: 200Mi}
      requests: {cpu: 0.1, memory: 100Mi}
    volumeMounts:
    - {name: varlog, mountPath: /var/log, readOnly: true}
    livenessProbe:
      httpGet: {path: /healthz, port: http, scheme: HTTP}
      initialDelaySeconds: 3
      periodSeconds: 10
    readinessProbe:
      tcpSocket: {port: 8080}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
status:
  phase: Running
  qosClass: Burstable
  hostIP: 10.0.0.11
  hostIPs: [{ip: 10.0.0.11}]
  podIP: 10.244.1.5
  podIPs: [{ip: 10.244.1.5}]
  startTime: "2026-11-24T07:05:00Z"
  observedGeneration: 1
  conditions:
  - {type: Ready, status: "True", lastProbeTime: null, lastTransitionTime: "2026-11-24T07:05:03Z"}
  - {type: PodScheduled, status: "True", lastProbeTime: null, lastTransitionTime: "2026-11-24T07:05:00Z"}
  containerStatuses:
  - name: log-collector
    image: docker.io/library/busybox:latest
    imageID: docker.io/library/busybox@sha256:abc
    containerID: miniplane://0123
    ready: true
    started: true
    restartCount: 2
    state: {running: {startedAt: "2026-11-24T07:05:02Z"}}
    lastState:
      terminated: {exitCode: 137, reason: OOMKilled, startedAt: "2026-11-24T07:05:00Z",
                   finishedAt: "2026-11-24T07:05:01Z"}
    resources: {limits: {cpu: 100m}}
    allocatedResources: {cpu: 100m}
    user: {linux: {uid: 1000, gid: 1000, supplementalGroups: [2000]}}
    volumeMounts: [{name: varlog, mountPath: /var/log, readOnly: true, recursiveReadOnly: Disabled}]
""")


def example_objects() -> list[dict[str, Any]]:
    return [doc for f in sorted(EXAMPLES.glob("*.yaml")) for doc in yaml.safe_load_all(f.read_text()) if doc]


def log_collector() -> dict[str, Any]:
    ds: dict[str, Any] = yaml.safe_load((EXAMPLES / "log-collector-daemonset.yaml").read_text())
    return ds


def report_of(obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    report = check_fields(obj["apiVersion"], obj["kind"], obj)
    return report.unknown, report.type_errors


@pytest.mark.parametrize(
    "obj",
    [*example_objects(), NODE, POD],
    ids=lambda o: f"{o['kind']}/{o['metadata']['name']}",
)
def test_correct_objects_report_nothing(obj: dict[str, Any]) -> None:
    report = check_fields(obj["apiVersion"], obj["kind"], obj)
    assert report.unknown == [] and report.type_errors == []
    assert report.ok


def pod_spec(ds: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = ds["spec"]["template"]["spec"]
    return spec


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting the dotted ``path`` (list indices as numbers) of a DaemonSet."""

    def mutate(ds: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = ds
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[last] = value

    return mutate


UNKNOWN_CASES = [
    ("top-level", [_set("foo", 1)], ["foo"]),
    ("spec", [_set("spec.foo", 1), _set("spec.bar", {"x": 1})], ["spec.foo", "spec.bar"]),
    ("metadata", [_set("metadata.foo", "x")], ["metadata.foo"]),
    ("template metadata", [_set("spec.template.metadata.nmae", "x")], ["spec.template.metadata.nmae"]),
    (
        "list item",
        [_set("spec.template.spec.containers.0.bogus", True)],
        ["spec.template.spec.containers[0].bogus"],
    ),
    (
        "nested list item",
        [_set("spec.template.spec.containers.0.ports", [{"containerPort": 80}, {"name": "b", "x": 1}])],
        ["spec.template.spec.containers[0].ports[1].x"],
    ),
    ("deep struct", [_set("spec.updateStrategy", {"rollingUpdate": {"maxSurge": 1, "max": 2}})],
     ["spec.updateStrategy.rollingUpdate.max"]),
    ("case matters", [_set("spec.Selector", {})], ["spec.Selector"]),
]  # fmt: skip


@pytest.mark.parametrize(("mutations", "expected"), [c[1:] for c in UNKNOWN_CASES], ids=[c[0] for c in UNKNOWN_CASES])
def test_unknown_fields_are_found_with_kubernetes_paths(
    mutations: list[Callable[[dict[str, Any]], None]], expected: list[str]
) -> None:
    ds = log_collector()
    for mutate in mutations:
        mutate(ds)
    assert report_of(ds) == (expected, [])


def test_type_meta_and_open_fields_are_known() -> None:
    ds = log_collector()
    ds["spec"]["template"]["kind"] = "PodTemplate"  # apiVersion/kind are known everywhere
    ds["metadata"]["labels"] = {"any-key": "v"}
    ds["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": {"f:anything": {"deep": [1]}}}]
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"x/y": "z"}
    assert report_of(ds) == ([], [])


def test_null_is_accepted_everywhere() -> None:
    ds = log_collector()
    ds["spec"]["updateStrategy"] = None
    ds["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": None}]
    ds["metadata"]["labels"] = {"a": None}
    assert report_of(ds) == ([], [])


def test_unknown_kind_reports_nothing() -> None:
    report = check_fields("example.com/v1", "Widget", {"spec": {"anything": 1}})
    assert report.ok


FIELD = "into Go struct field"
TYPE_CASES = [
    (
        "string for int32",
        _set("spec.template.spec.containers.0.ports", [{"containerPort": "80"}]),
        f"json: cannot unmarshal string {FIELD} ContainerPort.spec.template.spec.containers.ports."
        "containerPort of type int32",
    ),
    (
        "fraction for int32",
        _set("spec.minReadySeconds", 1.5),
        f"json: cannot unmarshal number 1.5 {FIELD} DaemonSetSpec.spec.minReadySeconds of type int32",
    ),
    (
        "bool for int32",
        _set("spec.revisionHistoryLimit", True),
        f"json: cannot unmarshal bool {FIELD} DaemonSetSpec.spec.revisionHistoryLimit of type int32",
    ),
    (
        "object for list",
        _set("spec.template.spec.containers", {"name": "x"}),
        f"json: cannot unmarshal object {FIELD} PodSpec.spec.template.spec.containers of type []v1.Container",
    ),
    (
        "string for struct",
        _set("spec.template.spec.securityContext", "privileged"),
        f"json: cannot unmarshal string {FIELD} PodSpec.spec.template.spec.securityContext "
        "of type v1.PodSecurityContext",
    ),
    (
        "number in string map",
        _set("metadata.labels", {"a": 1}),
        f"json: cannot unmarshal number {FIELD} ObjectMeta.metadata.labels of type string",
    ),
    (
        "number for string list item",
        _set("spec.template.spec.containers.0.args", ["sh", 5]),
        f"json: cannot unmarshal number {FIELD} Container.spec.template.spec.containers.args of type string",
    ),
    (
        "array for map",
        _set("spec.selector.matchLabels", ["app"]),
        f"json: cannot unmarshal array {FIELD} LabelSelector.spec.selector.matchLabels of type map[string]string",
    ),
    (
        "bool for IntOrString",
        _set("spec.updateStrategy", {"rollingUpdate": {"maxUnavailable": False}}),
        f"json: cannot unmarshal bool {FIELD} RollingUpdateDaemonSet.spec.updateStrategy.rollingUpdate."
        "maxUnavailable of type intstr.IntOrString",
    ),
    (
        "object for Quantity",
        _set("spec.template.spec.containers.0.resources", {"limits": {"cpu": {"m": 1}}}),
        f"json: cannot unmarshal object {FIELD} ResourceRequirements.spec.template.spec.containers.resources."
        "limits of type resource.Quantity",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in TYPE_CASES], ids=[c[0] for c in TYPE_CASES])
def test_type_errors_are_found(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    ds = log_collector()
    mutate(ds)
    assert report_of(ds) == ([], [message])


def test_accepted_scalar_variants() -> None:
    ds = log_collector()
    ds["spec"]["updateStrategy"] = {"rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}}
    ds["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": 0.5, "memory": 1024}}
    assert report_of(ds) == ([], [])


def test_findings_are_capped_like_the_apiserver() -> None:
    ds = log_collector()
    ds["spec"].update({f"x{i}": i for i in range(MAX_FINDINGS + 50)})
    ds["metadata"]["labels"] = {f"l{i}": i for i in range(MAX_FINDINGS + 50)}
    unknown, type_errors = report_of(ds)
    assert len(unknown) == len(type_errors) == MAX_FINDINGS
    assert len(prune_unknown("apps/v1", "DaemonSet", ds)["spec"]) == len(log_collector()["spec"])


def test_a_body_that_is_not_an_object() -> None:
    report = check_fields("apps/v1", "DaemonSet", ["not", "an", "object"])
    assert report.type_errors == ["json: cannot unmarshal array into Go value of type v1.DaemonSet"]


def test_wrongly_typed_values_are_not_searched_for_unknown_fields() -> None:
    ds = log_collector()
    ds["spec"]["template"]["spec"]["volumes"] = {"bogus": 1}
    unknown, type_errors = report_of(ds)
    assert unknown == [] and len(type_errors) == 1


@pytest.mark.parametrize("obj", [*example_objects(), NODE, POD], ids=lambda o: o["kind"])
def test_prune_leaves_correct_objects_equal_and_copied(obj: dict[str, Any]) -> None:
    pruned = prune_unknown(obj["apiVersion"], obj["kind"], obj)
    assert pruned == obj
    pruned["metadata"]["name"] = "changed"
    assert obj["metadata"]["name"] != "changed"


def test_prune_drops_only_unknown_fields() -> None:
    clean = log_collector()
    clean["spec"]["template"]["kind"] = "kept"
    pod_spec(clean)["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 81}]
    ds = copy.deepcopy(clean)
    ds["foo"] = 1
    ds["metadata"]["foo"] = {"x": 1}
    ds["spec"]["bar"] = [1]
    pod_spec(ds)["containers"][0]["bogus"] = True
    pod_spec(ds)["containers"][0]["ports"][1]["x"] = 1
    assert len(report_of(ds)[0]) == 5
    pruned = prune_unknown("apps/v1", "DaemonSet", ds)
    assert pruned == clean
    assert report_of(pruned) == ([], [])


def test_strict_error_message_matches_the_apiserver() -> None:
    assert strict_error_message("DaemonSet", "v1", ["spec.foo", "spec.bar"]) == (
        'DaemonSet in version "v1" cannot be handled as a DaemonSet: strict decoding error: '
        'unknown field "spec.foo", unknown field "spec.bar"'
    )
    assert decode_error_message("Pod", "v1", "json: x") == 'Pod in version "v1" cannot be handled as a Pod: json: x'


def test_warning_headers() -> None:
    assert warning_headers(["spec.foo", "spec.template.spec.containers[0].x"]) == [
        '299 - "unknown field \\"spec.foo\\""',
        '299 - "unknown field \\"spec.template.spec.containers[0].x\\""',
    ]
    (header,) = warning_headers(['a"b\\c\ud7ff\x7f\n'])
    assert header.isascii() and "\n" not in header and "\x7f" not in header


def test_a_pod_is_checked_well_under_a_millisecond() -> None:
    check_fields("v1", "Pod", POD)  # compile the schema first
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        check_fields("v1", "Pod", POD)
    assert (time.perf_counter() - start) / runs < 0.0005
