"""Real DaemonSet, Node and Pod objects for the patch tests, and helpers to inspect results."""

from __future__ import annotations

from typing import Any

ABSENT = object()

LOG_ARGS = ["/bin/sh", "-c", 'while true; do echo $(date) "Log message from $(hostname)"; sleep 5; done']

DAEMONSET: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {
        "name": "simple-log-collector",
        "namespace": "default",
        "uid": "0c6a7a3e-0000-4000-8000-000000000001",
        "resourceVersion": "131",
        "generation": 1,
        "finalizers": ["example.com/keep"],
        "annotations": {"deprecated.daemonset.template.generation": "1", "team": "obs"},
    },
    "spec": {
        "selector": {"matchLabels": {"app": "log-collector"}},
        "template": {
            "metadata": {"labels": {"app": "log-collector"}},
            "spec": {
                "containers": [
                    {
                        "name": "log-collector",
                        "image": "busybox",
                        "args": LOG_ARGS,
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [
                            {"containerPort": 8080, "protocol": "TCP"},
                            {"containerPort": 9090, "name": "metrics", "protocol": "TCP"},
                        ],
                        "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}],
                        "imagePullPolicy": "Always",
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    },
                    {"name": "sidecar", "image": "busybox", "command": ["sleep", "infinity"]},
                ],
                "volumes": [{"name": "varlog", "hostPath": {"path": "/var/log", "type": ""}}],
                "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                "restartPolicy": "Always",
                "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30,
            },
        },
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "revisionHistoryLimit": 10,
        "minReadySeconds": 2,
    },
    "status": {"desiredNumberScheduled": 2, "numberReady": 2, "observedGeneration": 1},
}

NODE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1", "accelerator": "gpu"}},
    "spec": {
        "podCIDR": "10.244.1.0/24",
        "podCIDRs": ["10.244.1.0/24"],
        "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
        "unschedulable": True,
    },
    "status": {
        "conditions": [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is ready"},
        ],
        "addresses": [
            {"type": "InternalIP", "address": "10.0.0.1"},
            {"type": "Hostname", "address": "node-1"},
        ],
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
    },
}

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "simple-log-collector-4b48f",
        "namespace": "default",
        "labels": {"app": "log-collector", "controller-revision-hash": "6d4f8b7c9"},
        "finalizers": ["example.com/a"],
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "name": "simple-log-collector",
                "uid": "ds-uid",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    },
    "spec": {
        "nodeName": "node-1",
        "containers": [{"name": "log-collector", "image": "busybox"}],
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
    },
    "status": {
        "phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
        "podIPs": [{"ip": "10.244.1.5"}],
    },
}

OBJECTS = {"DaemonSet": (DAEMONSET, "apps/v1"), "Node": (NODE, "v1"), "Pod": (POD, "v1")}


def at(obj: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or ABSENT."""
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(obj, list):
            index = int(token)
            if index >= len(obj):
                return ABSENT
            obj = obj[index]
        elif isinstance(obj, dict) and token in obj:
            obj = obj[token]
        else:
            return ABSENT
    return obj


def directive_keys(value: Any) -> list[str]:
    """Every map key starting with ``$`` anywhere in ``value``."""
    if isinstance(value, dict):
        return [k for k in value if k.startswith("$")] + [d for v in value.values() for d in directive_keys(v)]
    if isinstance(value, list):
        return [d for v in value for d in directive_keys(v)]
    return []
