"""Validation: one row per rule, each asserting the cause (reason, field, message) kubectl would print."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from miniplane.resources.causes import Cause, go_label_selector, go_quote, go_string_map
from miniplane.resources.defaults import apply_defaults
from miniplane.resources.validation import validate, validate_status

EXAMPLES = Path("/work/shared/examples")
DELETE = object()

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
KEY_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
    "regex used for validation is '[0-9]+%')"
)


def ds_base() -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((EXAMPLES / "log-collector-daemonset.yaml").read_text())
    obj["metadata"]["namespace"] = "default"
    apply_defaults("DaemonSet", obj)
    return obj


BASES: dict[str, Any] = {
    "DaemonSet": ds_base,
    "Pod": lambda: {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    },
    "Node": lambda: {"metadata": {"name": "node-1"}, "spec": {}, "status": {"capacity": {"cpu": "4", "pods": "110"}}},
    "Namespace": lambda: {"metadata": {"name": "team-a"}},
    "ControllerRevision": lambda: {
        "metadata": {"name": "ds-7b9c6d5f4", "namespace": "default"},
        "data": {"spec": {"template": {}}},
        "revision": 1,
    },
    "Lease": lambda: {
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40},
    },
    "Event": lambda: {
        "metadata": {"name": "ds.1", "namespace": "default"},
        "involvedObject": {"kind": "DaemonSet", "namespace": "default", "name": "ds"},
        "reason": "SuccessfulCreate",
        "message": "Created pod: ds-abcde",
        "type": "Normal",
    },
}


def base(kind: str) -> dict[str, Any]:
    obj: dict[str, Any] = BASES[kind]()
    apply_defaults(kind, obj)
    return obj


def changed(obj: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy with each dotted path (``a.b[0].c``) set, or removed when the value is DELETE."""
    obj = copy.deepcopy(obj)
    for path, value in changes.items():
        steps: list[str | int] = [
            int(s[1:-1]) if s.startswith("[") else s for s in re.findall(r"\[\d+\]|[^.\[]+", path)
        ]
        target: Any = obj
        for step in steps[:-1]:
            if isinstance(step, str) and step not in target:
                target[step] = {}
            target = target[step]
        last = steps[-1]
        if value is DELETE:
            del target[last]
        elif isinstance(target, list) and last == len(target):
            target.append(copy.deepcopy(value))
        else:
            target[last] = copy.deepcopy(value)
    return obj


def cause(reason: str, field: str, message: str) -> Cause:
    return {"reason": f"FieldValue{reason}", "field": field, "message": message}


T = "spec.template.spec"
C0 = f"{T}.containers[0]"
RU = "spec.updateStrategy.rollingUpdate"


def row(id: str, kind: str, changes: dict[str, Any], reason: str, field: str, message: str) -> Any:
    return pytest.param(kind, changes, cause(reason, field, message), id=id)


CREATE_ROWS = [
    # ---- metadata (every kind) ----
    row("name-required", "DaemonSet", {"metadata.name": DELETE}, "Required", "metadata.name",
        "Required value: name or generateName is required"),
    row("name-not-subdomain", "DaemonSet", {"metadata.name": "Bad_Name"}, "Invalid", "metadata.name",
        f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}'),
    row("name-too-long", "DaemonSet", {"metadata.name": "a" * 254}, "Invalid", "metadata.name",
        f"Invalid value: {go_quote('a' * 254)}: must be no more than 253 bytes"),
    row("generate-name-bad", "DaemonSet", {"metadata.generateName": "Bad-"}, "Invalid", "metadata.generateName",
        f'Invalid value: "Bad-": {SUBDOMAIN_MSG}'),
    row("namespace-required", "DaemonSet", {"metadata.namespace": DELETE}, "Required", "metadata.namespace",
        "Required value"),
    row("namespace-on-cluster-scoped", "Node", {"metadata.namespace": "default"}, "Forbidden", "metadata.namespace",
        "Forbidden: not allowed on this type"),
    row("label-key-invalid", "DaemonSet", {"metadata.labels": {"a b": "x"}}, "Invalid", "metadata.labels",
        f'Invalid value: "a b": {KEY_NAME_MSG}'),
    row("label-key-prefix-invalid", "DaemonSet", {"metadata.labels": {"Ex_ample/a": "x"}}, "Invalid",
        "metadata.labels", f'Invalid value: "Ex_ample/a": prefix part {SUBDOMAIN_MSG}'),
    row("label-value-too-long", "DaemonSet", {"metadata.labels": {"a": "v" * 64}}, "Invalid", "metadata.labels",
        f"Invalid value: {go_quote('v' * 64)}: must be no more than 63 bytes"),
    row("label-value-invalid", "DaemonSet", {"metadata.labels": {"a": "-x"}}, "Invalid", "metadata.labels",
        f'Invalid value: "-x": {LABEL_VALUE_MSG}'),
    row("annotation-key-invalid", "DaemonSet", {"metadata.annotations": {"a/b/c": "x"}}, "Invalid",
        "metadata.annotations",
        "Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
        "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
        "subdomain prefix and '/' (e.g. 'example.com/MyName')"),
    row("annotations-too-large", "DaemonSet", {"metadata.annotations": {"big": "x" * 262142}}, "TooLong",
        "metadata.annotations", "Too long: may not be more than 262144 bytes"),
    row("finalizer-not-standard", "DaemonSet", {"metadata.finalizers": ["custom"]}, "Invalid",
        "metadata.finalizers[0]",
        'Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified'),
    row("owner-reference-uid", "DaemonSet",
        {"metadata.ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n"}]},
        "Invalid", "metadata.ownerReferences.uid", 'Invalid value: "": must not be empty'),
    row("generation-negative", "DaemonSet", {"metadata.generation": -1}, "Invalid", "metadata.generation",
        "Invalid value: -1: must be greater than or equal to 0"),
    # ---- DaemonSet spec (§6.1) ----
    row("selector-required", "DaemonSet", {"spec.selector": DELETE}, "Required", "spec.selector", "Required value"),
    row("selector-mismatch", "DaemonSet", {"spec.template.metadata.labels": {"app": "y"}}, "Invalid",
        "spec.template.metadata.labels",
        'Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`'),
    row("selector-without-template-labels", "DaemonSet", {"spec.template.metadata.labels": DELETE}, "Invalid",
        "spec.template.metadata.labels",
        "Invalid value: map[string]string(nil): `selector` does not match template `labels`"),
    row("selector-expression-mismatch", "DaemonSet",
        {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["log-collector"]}]}},
        "Invalid", "spec.template.metadata.labels",
        'Invalid value: map[string]string{"app":"log-collector"}: `selector` does not match template `labels`'),
    row("selector-empty", "DaemonSet", {"spec.selector": {}}, "Invalid", "spec.selector",
        "Invalid value: &LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{},}:"
        " empty selector is invalid for daemonset"),
    row("selector-operator", "DaemonSet",
        {"spec.selector.matchExpressions": [{"key": "app", "operator": "Equals", "values": ["x"]}]},
        "Invalid", "spec.selector.matchExpressions[0].operator",
        'Invalid value: "Equals": not a valid selector operator'),
    row("selector-in-needs-values", "DaemonSet",
        {"spec.selector.matchExpressions": [{"key": "app", "operator": "In"}]},
        "Required", "spec.selector.matchExpressions[0].values",
        "Required value: must be specified when `operator` is 'In' or 'NotIn'"),
    row("selector-exists-no-values", "DaemonSet",
        {"spec.selector.matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]},
        "Forbidden", "spec.selector.matchExpressions[0].values",
        "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
    row("selector-label-value", "DaemonSet", {"spec.selector.matchLabels": {"app": "a b"}}, "Invalid",
        "spec.selector.matchLabels", f'Invalid value: "a b": {LABEL_VALUE_MSG}'),
    row("restart-policy-never", "DaemonSet", {f"{T}.restartPolicy": "Never"}, "NotSupported",
        f"{T}.restartPolicy", 'Unsupported value: "Never": supported values: "Always"'),
    row("restart-policy-bogus", "DaemonSet", {f"{T}.restartPolicy": "Sometimes"}, "NotSupported",
        f"{T}.restartPolicy", 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'),
    row("active-deadline-forbidden", "DaemonSet", {f"{T}.activeDeadlineSeconds": 30}, "Forbidden",
        f"{T}.activeDeadlineSeconds", "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported"),
    row("min-ready-negative", "DaemonSet", {"spec.minReadySeconds": -1}, "Invalid", "spec.minReadySeconds",
        "Invalid value: -1: must be greater than or equal to 0"),
    row("history-limit-negative", "DaemonSet", {"spec.revisionHistoryLimit": -1}, "Invalid",
        "spec.revisionHistoryLimit", "Invalid value: -1: must be greater than or equal to 0"),
    row("strategy-type", "DaemonSet", {"spec.updateStrategy": {"type": "Recreate"}}, "NotSupported",
        "spec.updateStrategy",
        'Unsupported value: apps.DaemonSetUpdateStrategy{Type:"Recreate", RollingUpdate:(*apps.RollingUpdateDaemonSet)'
        '(nil)}: supported values: "RollingUpdate", "OnDelete"'),
    row("rolling-update-required", "DaemonSet", {"spec.updateStrategy.rollingUpdate": DELETE}, "Required",
        RU, "Required value"),
    row("both-zero", "DaemonSet", {RU: {"maxUnavailable": 0, "maxSurge": 0}}, "Required", f"{RU}.maxUnavailable",
        "Required value: cannot be 0 when maxSurge is 0"),
    row("both-zero-percent", "DaemonSet", {RU: {"maxUnavailable": "0%", "maxSurge": 0}}, "Required",
        f"{RU}.maxUnavailable", "Required value: cannot be 0 when maxSurge is 0"),
    row("both-non-zero", "DaemonSet", {RU: {"maxUnavailable": 1, "maxSurge": "20%"}}, "Invalid", f"{RU}.maxSurge",
        "Invalid value: 20%: may not be set when maxUnavailable is non-zero"),
    row("max-unavailable-negative", "DaemonSet", {RU: {"maxUnavailable": -1, "maxSurge": 1}}, "Invalid",
        f"{RU}.maxUnavailable", "Invalid value: -1: must be greater than or equal to 0"),
    row("max-surge-not-percent", "DaemonSet", {RU: {"maxUnavailable": 0, "maxSurge": "10"}}, "Invalid",
        f"{RU}.maxSurge", f"Invalid value: 10: {PERCENT_MSG}"),
    row("max-unavailable-over-100", "DaemonSet", {RU: {"maxUnavailable": "101%", "maxSurge": 0}}, "Invalid",
        f"{RU}.maxUnavailable", "Invalid value: 101%: must not be greater than 100%"),
    row("max-surge-over-100", "DaemonSet", {RU: {"maxUnavailable": 0, "maxSurge": "150%"}}, "Invalid",
        f"{RU}.maxSurge", "Invalid value: 150%: must not be greater than 100%"),
    row("max-surge-not-int-or-string", "DaemonSet", {RU: {"maxUnavailable": 1, "maxSurge": 1.5}}, "Invalid",
        f"{RU}.maxSurge", "Invalid value: 1.5: must be an integer or percentage (e.g '5%%')"),
    # ---- pod template (through a DaemonSet) ----
    row("template-label-invalid", "DaemonSet", {"spec.template.metadata.labels.bad key": "x"}, "Invalid",
        "spec.template.labels", f'Invalid value: "bad key": {KEY_NAME_MSG}'),
    row("containers-required", "DaemonSet", {f"{T}.containers": []}, "Required", f"{T}.containers", "Required value"),
    row("container-name-required", "DaemonSet", {f"{C0}.name": DELETE}, "Required", f"{C0}.name", "Required value"),
    row("container-name-not-label", "DaemonSet", {f"{C0}.name": "Log_Collector"}, "Invalid", f"{C0}.name",
        f'Invalid value: "Log_Collector": {LABEL_MSG}'),
    row("container-name-dots", "DaemonSet", {f"{C0}.name": "log.collector"}, "Invalid", f"{C0}.name",
        'Invalid value: "log.collector": must not contain dots'),
    row("container-name-duplicate", "DaemonSet",
        {f"{T}.containers[1]": {"name": "log-collector", "image": "busybox", "imagePullPolicy": "Always",
                                 "terminationMessagePolicy": "File"}},
        "Duplicate", f"{T}.containers[1].name", 'Duplicate value: "log-collector"'),
    row("init-container-name-clashes", "DaemonSet",
        {f"{T}.initContainers": [{"name": "log-collector", "image": "busybox", "imagePullPolicy": "Always",
                                  "terminationMessagePolicy": "File"}]},
        "Duplicate", f"{T}.initContainers[0].name", 'Duplicate value: "log-collector"'),
    row("image-required", "DaemonSet", {f"{C0}.image": ""}, "Required", f"{C0}.image", "Required value"),
    row("pull-policy", "DaemonSet", {f"{C0}.imagePullPolicy": "Sometimes"}, "NotSupported", f"{C0}.imagePullPolicy",
        'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"'),
    row("termination-message-policy", "DaemonSet", {f"{C0}.terminationMessagePolicy": "Log"}, "NotSupported",
        f"{C0}.terminationMessagePolicy",
        'Unsupported value: "Log": supported values: "File", "FallbackToLogsOnError"'),
    row("port-out-of-range", "DaemonSet", {f"{C0}.ports": [{"containerPort": 70000, "protocol": "TCP"}]},
        "Invalid", f"{C0}.ports[0].containerPort", "Invalid value: 70000: must be between 1 and 65535, inclusive"),
    row("port-required", "DaemonSet", {f"{C0}.ports": [{"protocol": "TCP"}]}, "Required",
        f"{C0}.ports[0].containerPort", "Required value"),
    row("host-port-out-of-range", "DaemonSet", {f"{C0}.ports": [{"containerPort": 80, "hostPort": -1,
                                                                   "protocol": "TCP"}]},
        "Invalid", f"{C0}.ports[0].hostPort", "Invalid value: -1: must be between 1 and 65535, inclusive"),
    row("port-protocol", "DaemonSet", {f"{C0}.ports": [{"containerPort": 80, "protocol": "HTTP"}]}, "NotSupported",
        f"{C0}.ports[0].protocol", 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'),
    row("port-name-too-long", "DaemonSet",
        {f"{C0}.ports": [{"name": "metrics-endpoint-x", "containerPort": 80, "protocol": "TCP"}]},
        "Invalid", f"{C0}.ports[0].name", 'Invalid value: "metrics-endpoint-x": must be no more than 15 bytes'),
    row("port-name-duplicate", "DaemonSet",
        {f"{C0}.ports": [{"name": "web", "containerPort": 80, "protocol": "TCP"},
                         {"name": "web", "containerPort": 81, "protocol": "TCP"}]},
        "Duplicate", f"{C0}.ports[1].name", 'Duplicate value: "web"'),
    row("host-port-clash", "DaemonSet",
        {f"{C0}.ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"},
                         {"containerPort": 81, "hostPort": 8080, "protocol": "TCP"}]},
        "Duplicate", f"{T}.containers[0].ports[1].hostPort", 'Duplicate value: "TCP//8080"'),
    row("host-network-host-port-mismatch", "DaemonSet",
        {f"{T}.hostNetwork": True, f"{C0}.ports": [{"containerPort": 80, "hostPort": 81, "protocol": "TCP"}]},
        "Invalid", f"{C0}.ports[0].hostPort",
        "Invalid value: 81: must match `containerPort` when `hostNetwork` is true"),
    row("probe-negative", "DaemonSet",
        {f"{C0}.livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": -1, "successThreshold": 1}},
        "Invalid", f"{C0}.livenessProbe.periodSeconds", "Invalid value: -1: must be greater than or equal to 0"),
    row("probe-handler-required", "DaemonSet", {f"{C0}.readinessProbe": {"periodSeconds": 1}}, "Required",
        f"{C0}.readinessProbe", "Required value: must specify a handler type"),
    row("probe-two-handlers", "DaemonSet",
        {f"{C0}.readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}},
        "Forbidden", f"{C0}.readinessProbe.tcpSocket", "Forbidden: may not specify more than 1 handler type"),
    row("liveness-success-threshold", "DaemonSet",
        {f"{C0}.livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}},
        "Invalid", f"{C0}.livenessProbe.successThreshold", "Invalid value: 2: must be 1"),
    row("readiness-grace-period", "DaemonSet",
        {f"{C0}.readinessProbe": {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 5}},
        "Invalid", f"{C0}.readinessProbe.terminationGracePeriodSeconds",
        "Invalid value: 5: must not be set for readinessProbes"),
    row("exec-command-required", "DaemonSet", {f"{C0}.readinessProbe": {"exec": {}}}, "Required",
        f"{C0}.readinessProbe.exec.command", "Required value"),
    row("http-port-name", "DaemonSet",
        {f"{C0}.readinessProbe": {"httpGet": {"path": "/", "port": "8080", "scheme": "HTTP"}}},
        "Invalid", f"{C0}.readinessProbe.httpGet.port",
        'Invalid value: "8080": must contain at least one letter (a-z)'),
    row("http-scheme", "DaemonSet",
        {f"{C0}.readinessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "FTP"}}},
        "NotSupported", f"{C0}.readinessProbe.httpGet.scheme",
        'Unsupported value: "FTP": supported values: "HTTP", "HTTPS"'),
    row("init-container-probe", "DaemonSet",
        {f"{T}.initContainers": [{"name": "init", "image": "busybox", "imagePullPolicy": "Always",
                                  "terminationMessagePolicy": "File", "livenessProbe": {"exec": {"command": ["x"]}}}]},
        "Forbidden", f"{T}.initContainers[0].livenessProbe",
        "Forbidden: may not be set for init containers without restartPolicy=Always"),
    row("volume-name-duplicate", "DaemonSet",
        {f"{T}.volumes": [{"name": "logs", "emptyDir": {}}, {"name": "logs", "emptyDir": {}}]},
        "Duplicate", f"{T}.volumes[1].name", 'Duplicate value: "logs"'),
    row("volume-two-sources", "DaemonSet",
        {f"{T}.volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]},
        "Forbidden", f"{T}.volumes[0].hostPath", "Forbidden: may not specify more than 1 volume type"),
    row("volume-secret-name", "DaemonSet", {f"{T}.volumes": [{"name": "v", "secret": {"defaultMode": 420}}]},
        "Required", f"{T}.volumes[0].secret.secretName", "Required value"),
    row("volume-mode", "DaemonSet",
        {f"{T}.volumes": [{"name": "v", "configMap": {"name": "c", "defaultMode": 512}}]},
        "Invalid", f"{T}.volumes[0].configMap.defaultMode",
        "Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive"),
    row("host-path-backsteps", "DaemonSet", {f"{T}.volumes": [{"name": "v", "hostPath": {"path": "/a/../b"}}]},
        "Invalid", f"{T}.volumes[0].hostPath.path", "Invalid value: \"/a/../b\": must not contain '..'"),
    row("volume-mount-unknown", "DaemonSet", {f"{C0}.volumeMounts": [{"name": "logs", "mountPath": "/logs"}]},
        "NotFound", f"{C0}.volumeMounts[0].name", 'Not found: "logs"'),
    row("volume-mount-path-unique", "DaemonSet",
        {f"{T}.volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}],
         f"{C0}.volumeMounts": [{"name": "a", "mountPath": "/x"}, {"name": "b", "mountPath": "/x"}]},
        "Invalid", f"{C0}.volumeMounts[1].mountPath", 'Invalid value: "/x": must be unique'),
    row("env-name", "DaemonSet", {f"{C0}.env": [{"name": "A=B"}]}, "Invalid", f"{C0}.env[0].name",
        "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII "
        "characters other than '='"),
    row("env-field-path", "DaemonSet",
        {f"{C0}.env": [{"name": "P", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.phase"}}}]},
        "NotSupported", f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
        'Unsupported value: "status.phase": supported values: "metadata.name", "metadata.namespace", '
        '"metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", '
        '"status.podIP", "status.podIPs"'),
    row("env-field-path-unknown", "DaemonSet",
        {f"{C0}.env": [{"name": "P", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.foo"}}}]},
        "Invalid", f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
        'Invalid value: "spec.foo": error converting fieldPath: field label not supported: spec.foo'),
    row("env-value-and-source", "DaemonSet",
        {f"{C0}.env": [{"name": "P", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
        "Invalid", f"{C0}.env[0].valueFrom", 'Invalid value: "": may not be specified when `value` is not empty'),
    row("resource-quantity-unparsable", "DaemonSet", {f"{C0}.resources": {"limits": {"memory": "lots"}}},
        "Invalid", f"{C0}.resources.limits[memory]",
        "Invalid value: \"lots\": quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    row("resource-quantity-negative", "DaemonSet", {f"{C0}.resources": {"requests": {"cpu": "-1"}}}, "Invalid",
        f"{C0}.resources.requests[cpu]", 'Invalid value: "-1": must be greater than or equal to 0'),
    row("request-over-limit", "DaemonSet",
        {f"{C0}.resources": {"limits": {"cpu": "200m"}, "requests": {"cpu": "300m"}}},
        "Invalid", f"{C0}.resources.requests",
        'Invalid value: "300m": must be less than or equal to cpu limit of 200m'),
    row("resource-name-unknown", "DaemonSet", {f"{C0}.resources": {"limits": {"gpu": "1"}}}, "Invalid",
        f"{C0}.resources.limits[gpu]", 'Invalid value: "gpu": must be a standard resource for containers'),
    row("extended-resource-whole", "DaemonSet",
        {f"{C0}.resources": {"limits": {"example.com/gpu": "500m"}, "requests": {"example.com/gpu": "500m"}}},
        "Invalid", f"{C0}.resources.limits[example.com/gpu]", "Invalid value: 500m: must be an integer"),
    row("extended-resource-needs-limit", "DaemonSet",
        {f"{C0}.resources": {"requests": {"example.com/gpu": "1"}}},
        "Required", f"{C0}.resources.limits", "Required value: Limit must be set for non overcommitable resources"),
    row("toleration-operator", "DaemonSet", {f"{T}.tolerations": [{"key": "k", "operator": "In"}]},
        "NotSupported", f"{T}.tolerations[0].operator", 'Unsupported value: "In": supported values: "Equal", "Exists"'),
    row("toleration-effect", "DaemonSet",
        {f"{T}.tolerations": [{"key": "k", "operator": "Exists", "effect": "NoRun"}]},
        "NotSupported", f"{T}.tolerations[0].effect",
        'Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'),
    row("toleration-empty-key", "DaemonSet", {f"{T}.tolerations": [{"operator": "Equal", "value": "x"}]},
        "Invalid", f"{T}.tolerations[0].operator",
        'Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and '
        'all keys"'),
    row("toleration-seconds-need-no-execute", "DaemonSet",
        {f"{T}.tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]},
        "Invalid", f"{T}.tolerations[0].effect",
        "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"),
    row("toleration-exists-with-value", "DaemonSet",
        {f"{T}.tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
        "Invalid", f"{T}.tolerations[0].operator",
        "Invalid value: \"v\": value must be empty when `operator` is 'Exists'"),
    row("node-selector-label", "DaemonSet", {f"{T}.nodeSelector": {"disk": "ss d"}}, "Invalid",
        f"{T}.nodeSelector", f'Invalid value: "ss d": {LABEL_VALUE_MSG}'),
    row("node-affinity-no-terms", "DaemonSet",
        {f"{T}.affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}},
        "Required", f"{T}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
        "Required value: must have at least one node selector term"),
    row("node-affinity-operator", "DaemonSet",
        {f"{T}.affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "Is", "values": ["ssd"]}]}]}}}},
        "Invalid",
        f"{T}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
        ".matchExpressions[0].operator", 'Invalid value: "Is": not a valid selector operator'),
    row("node-affinity-weight", "DaemonSet",
        {f"{T}.affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 0, "preference": {}}]}}},
        "Invalid", f"{T}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
        "Invalid value: 0: must be in the range 1-100"),
    row("match-fields-key", "DaemonSet",
        {f"{T}.affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.uid", "operator": "In", "values": ["x"]}]}]}}}},
        "Invalid",
        f"{T}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
        ".matchFields[0].key", 'Invalid value: "metadata.uid": not a valid field selector key'),
    row("grace-period-required", "DaemonSet", {f"{T}.terminationGracePeriodSeconds": DELETE}, "Required",
        f"{T}.terminationGracePeriodSeconds", "Required value"),
    row("dns-policy", "DaemonSet", {f"{T}.dnsPolicy": "Google"}, "NotSupported", f"{T}.dnsPolicy",
        'Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"'),
    row("ephemeral-containers-in-template", "DaemonSet",
        {f"{T}.ephemeralContainers": [{"name": "debug", "image": "busybox"}]},
        "Forbidden", f"{T}.ephemeralContainers", "Forbidden: ephemeral containers not allowed in pod template"),
    # ---- Pod ----
    row("pod-host-network-needs-host-port", "Pod",
        {"spec.hostNetwork": True,
         "spec.containers[0].ports": [{"containerPort": 80, "hostPort": 81, "protocol": "TCP"}]},
        "Invalid", "spec.containers[0].ports[0].hostPort",
        "Invalid value: 81: must match `containerPort` when `hostNetwork` is true"),
    row("pod-image-whitespace", "Pod", {"spec.containers[0].image": " busybox"}, "Invalid",
        "spec.containers[0].image", 'Invalid value: " busybox": must not have leading or trailing whitespace'),
    row("pod-node-name", "Pod", {"spec.nodeName": "Node_1"}, "Invalid", "spec.nodeName",
        f'Invalid value: "Node_1": {SUBDOMAIN_MSG}'),
    row("pod-active-deadline", "Pod", {"spec.activeDeadlineSeconds": 0}, "Invalid", "spec.activeDeadlineSeconds",
        "Invalid value: 0: must be between 1 and 2147483647, inclusive"),
    # ---- ControllerRevision ----
    row("revision-data-required", "ControllerRevision", {"data": DELETE}, "Required", "data",
        "Required value: data is mandatory"),
    row("revision-negative", "ControllerRevision", {"revision": -1}, "Invalid", "revision",
        "Invalid value: -1: must be greater than or equal to 0"),
    row("revision-name", "ControllerRevision", {"metadata.name": "ds_1"}, "Invalid", "metadata.name",
        f'Invalid value: "ds_1": {SUBDOMAIN_MSG}'),
    # ---- Node ----
    row("node-name", "Node", {"metadata.name": "Node 1"}, "Invalid", "metadata.name",
        f'Invalid value: "Node 1": {SUBDOMAIN_MSG}'),
    row("taint-effect", "Node", {"spec.taints": [{"key": "k", "effect": "NoRun"}]}, "NotSupported",
        "metadata.taints[0].effect",
        'Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'),
    row("taint-effect-required", "Node", {"spec.taints": [{"key": "k"}]}, "Required", "metadata.taints[0].effect",
        "Required value"),
    row("taint-key", "Node", {"spec.taints": [{"key": "bad key", "effect": "NoSchedule"}]}, "Invalid",
        "metadata.taints[0].key", f'Invalid value: "bad key": {KEY_NAME_MSG}'),
    row("taint-value", "Node", {"spec.taints": [{"key": "k", "value": "a b", "effect": "NoSchedule"}]}, "Invalid",
        "metadata.taints[0].value", f'Invalid value: "a b": {LABEL_VALUE_MSG}'),
    row("taint-duplicate", "Node",
        {"spec.taints": [{"key": "k", "value": "a", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}]},
        "Duplicate", "metadata.taints[1]",
        'Duplicate value: core.Taint{Key:"k", Value:"", Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: taints '
        "must be unique by key and effect pair"),
    row("capacity-negative", "Node", {"status.capacity.cpu": "-2"}, "Invalid", "status.capacity.cpu",
        'Invalid value: "-2": must be greater than or equal to 0'),
    row("capacity-pods-whole", "Node", {"status.capacity.pods": "1500m"}, "Invalid", "status.capacity.pods",
        "Invalid value: 1500m: must be an integer"),
    # ---- Namespace ----
    row("namespace-name-dots", "Namespace", {"metadata.name": "team.a"}, "Invalid", "metadata.name",
        'Invalid value: "team.a": must not contain dots'),
    row("namespace-name-label", "Namespace", {"metadata.name": "Team"}, "Invalid", "metadata.name",
        f'Invalid value: "Team": {LABEL_MSG}'),
    row("namespace-finalizer", "Namespace", {"spec.finalizers": ["custom"]}, "Invalid", "spec.finalizers",
        'Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified'),
    # ---- Lease ----
    row("lease-duration-zero", "Lease", {"spec.leaseDurationSeconds": 0}, "Invalid", "spec.leaseDurationSeconds",
        "Invalid value: 0: must be greater than 0"),
    row("lease-transitions-negative", "Lease", {"spec.leaseTransitions": -1}, "Invalid", "spec.leaseTransitions",
        "Invalid value: -1: must be greater than or equal to 0"),
    row("lease-preferred-holder", "Lease", {"spec.preferredHolder": "n2"}, "Forbidden", "spec.preferredHolder",
        "Forbidden: may only be specified if `strategy` is defined"),
    row("lease-strategy", "Lease", {"spec.strategy": "Newest"}, "NotSupported", "spec.strategy.strategy",
        'Unsupported value: "Newest": supported values: "OldestEmulationVersion"'),
    # ---- Event ----
    row("event-namespace-mismatch", "Event", {"involvedObject.namespace": "kube-system"}, "Invalid",
        "involvedObject.namespace", 'Invalid value: "kube-system": does not match event.namespace'),
    row("event-name-slash", "Event", {"metadata.name": "a/b"}, "Invalid", "metadata.name",
        "Invalid value: \"a/b\": may not contain '/'"),
    row("event-new-style-needs-controller", "Event",
        {"eventTime": "2026-01-01T00:00:00.000000Z", "reportingInstance": "i", "action": "Create"},
        "Required", "reportingController", "Required value"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "changes", "expected"), CREATE_ROWS)
def test_create_rule(kind: str, changes: dict[str, Any], expected: Cause) -> None:
    causes = validate(kind, changed(base(kind), changes))
    assert expected in causes, "\n".join(f"{c['field']}: {c['message']}" for c in causes)


@pytest.mark.parametrize("kind", sorted(BASES))
def test_bases_are_valid(kind: str) -> None:
    assert validate(kind, base(kind)) == []


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_are_valid(path: Path) -> None:
    obj = yaml.safe_load(path.read_text())
    obj["metadata"].setdefault("namespace", "default")
    apply_defaults(obj["kind"], obj)
    assert validate(obj["kind"], obj) == []
    assert validate(obj["kind"], obj, copy.deepcopy(obj)) == []


def test_generate_name_may_end_in_a_dash() -> None:
    assert validate("DaemonSet", changed(base("DaemonSet"), {"metadata.generateName": "log-"})) == []


def test_daemon_pod_placement_is_valid() -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    tolerations = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]
    pod = changed(base("Pod"), {"spec.affinity": affinity, "spec.tolerations": tolerations})
    assert validate("Pod", pod) == []


def test_several_causes_in_upstream_order() -> None:
    ds = changed(base("DaemonSet"), {"spec.selector": DELETE, f"{T}.restartPolicy": "Never"})
    assert validate("DaemonSet", ds) == [
        cause("Required", "spec.selector", "Required value"),
        cause(
            "Invalid",
            "spec.template.metadata.labels",
            'Invalid value: map[string]string{"app":"log-collector"}: `selector` does not match template `labels`',
        ),
        cause("NotSupported", f"{T}.restartPolicy", 'Unsupported value: "Never": supported values: "Always"'),
    ]


# ---- updates -------------------------------------------------------------------------------------

UPDATE_ROWS = [
    row("selector-immutable", "DaemonSet",
        {"spec.selector.matchLabels.tier": "node", "spec.template.metadata.labels.tier": "node"},
        "Invalid", "spec.selector",
        "Invalid value: &LabelSelector{MatchLabels:map[string]string{app: log-collector,tier: node,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable"),
    row("name-immutable", "DaemonSet", {"metadata.name": "other"}, "Invalid", "metadata.name",
        'Invalid value: "other": field is immutable'),
    row("uid-immutable", "DaemonSet", {"metadata.uid": "u2"}, "Invalid", "metadata.uid",
        'Invalid value: "u2": field is immutable'),
    row("collision-count-decremented", "DaemonSet", {"status.collisionCount": 0}, "Invalid", "status.collisionCount",
        "Invalid value: 0: cannot be decremented"),
    row("revision-data-immutable", "ControllerRevision", {"data": {"a": 1}}, "Invalid", "data",
        "Invalid value: &RawExtension{Raw:*[123 34 97 34 58 49 125],}: field is immutable"),
    row("pod-spec-immutable", "Pod", {"spec.containers[0].args": ["sleep", "1"]}, "Forbidden", "spec",
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)"),
    row("pod-toleration-removed", "Pod", {"spec.tolerations": []}, "Forbidden", "spec.tolerations",
        "Forbidden: existing toleration can not be modified except its tolerationSeconds"),
    row("node-provider-id", "Node", {"spec.providerID": "b"}, "Forbidden", "spec.providerID",
        'Forbidden: node updates may not change providerID except from "" to valid'),
]  # fmt: skip

OLD_CHANGES: dict[str, dict[str, Any]] = {
    "DaemonSet": {"metadata.uid": "u1", "status.collisionCount": 2},
    "Pod": {"spec.tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute"}]},
    "Node": {"spec.providerID": "a"},
}


@pytest.mark.parametrize(("kind", "changes", "expected"), UPDATE_ROWS)
def test_update_rule(kind: str, changes: dict[str, Any], expected: Cause) -> None:
    old = changed(base(kind), OLD_CHANGES.get(kind, {}))
    causes = validate(kind, changed(old, changes), old)
    assert expected in causes, "\n".join(f"{c['field']}: {c['message']}" for c in causes)


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        pytest.param("DaemonSet", {f"{C0}.image": "busybox:1.37"}, id="ds-template-change"),
        pytest.param("DaemonSet", {"spec.updateStrategy": {"type": "OnDelete"}}, id="ds-strategy-change"),
        pytest.param("Pod", {"spec.containers[0].image": "busybox:1.37"}, id="pod-image"),
        pytest.param("Pod", {"spec.activeDeadlineSeconds": 60}, id="pod-deadline"),
        pytest.param("Pod", {"spec.tolerations[1]": {"key": "x", "operator": "Exists"}}, id="pod-added-toleration"),
        pytest.param("Pod", {"spec.tolerations[0].tolerationSeconds": 5}, id="pod-toleration-seconds"),
        pytest.param("Pod", {"metadata.labels": {"a": "b"}}, id="pod-labels"),
        pytest.param("ControllerRevision", {"metadata.labels": {"a": "b"}}, id="revision-labels"),
        pytest.param("Node", {"spec.unschedulable": True}, id="node-cordon"),
    ],
)
def test_allowed_updates(kind: str, changes: dict[str, Any]) -> None:
    old = changed(base(kind), OLD_CHANGES.get(kind, {}))
    assert validate(kind, changed(old, changes), old) == []


@pytest.mark.parametrize(
    "counter",
    [
        "currentNumberScheduled",
        "numberMisscheduled",
        "desiredNumberScheduled",
        "numberReady",
        "observedGeneration",
        "updatedNumberScheduled",
        "numberAvailable",
        "numberUnavailable",
        "collisionCount",
    ],
)
def test_daemonset_status_counters_non_negative(counter: str) -> None:
    old = base("DaemonSet")
    new = changed(old, {f"status.{counter}": -1})
    expected = cause("Invalid", f"status.{counter}", "Invalid value: -1: must be greater than or equal to 0")
    assert expected in validate_status("DaemonSet", new, old)
    assert validate_status("DaemonSet", changed(old, {f"status.{counter}": 3}), old) == []


@pytest.mark.parametrize(
    ("status", "deleting", "expected"),
    [
        pytest.param({"phase": "Active"}, False, [], id="active"),
        pytest.param({"phase": "Terminating"}, True, [], id="terminating"),
        pytest.param(
            {"phase": "Terminating"},
            False,
            [cause("Invalid", "status.Phase", "Invalid value: \"Terminating\": may only be 'Active' if "
                   "`deletionTimestamp` is empty")],
            id="terminating-without-deletion",
        ),
    ],
)  # fmt: skip
def test_namespace_status(status: dict[str, Any], deleting: bool, expected: list[Cause]) -> None:
    old = base("Namespace")
    new = changed(old, {"status": status})
    if deleting:
        new["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert validate_status("Namespace", new, old) == expected


# ---- Go renderings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param("plain", '"plain"', id="plain"),
        pytest.param('say "hi"\\', '"say \\"hi\\"\\\\"', id="quote-and-backslash"),
        pytest.param("a\nb\tc\x01", '"a\\nb\\tc\\x01"', id="controls"),
        pytest.param("héllo ✓", '"héllo ✓"', id="printable-unicode-kept"),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


def test_go_renderings_of_maps_and_selectors() -> None:
    assert go_string_map({"b": "2", "a": "1"}) == 'map[string]string{"a":"1", "b":"2"}'
    assert go_string_map(None) == "map[string]string(nil)"
    selector = {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["a", "b"]}]}
    assert go_label_selector(selector) == (
        "&LabelSelector{MatchLabels:map[string]string{app: x,},MatchExpressions:[]LabelSelectorRequirement{"
        "LabelSelectorRequirement{Key:k,Operator:In,Values:[a b],},},}"
    )


# ---- robustness ----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
KEYS = ["metadata", "spec", "status", "data", "involvedObject", "eventTime"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(BASES)), st.dictionaries(st.sampled_from(KEYS), JSON, max_size=4))
def test_malformed_objects_yield_causes_not_crashes(kind: str, junk: dict[str, Any]) -> None:
    obj = {**base(kind), **junk}
    apply_defaults(kind, obj)
    assert isinstance(validate(kind, obj), list)
    assert isinstance(validate(kind, obj, base(kind)), list)
