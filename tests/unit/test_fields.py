"""Selectable fields per resource, as the apiserver offers them to field selectors."""

from __future__ import annotations

from typing import Any

import pytest

from miniplane.resources.fields import METADATA_FIELDS, SUPPORTED_FIELDS, selectable_fields
from miniplane.resources.registry import RESOURCES

POD = {
    "metadata": {"name": "p", "namespace": "default"},
    "spec": {
        "nodeName": "n1",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "hostNetwork": True,
    },
    "status": {"phase": "Running", "podIP": "10.0.0.5", "nominatedNodeName": "n2"},
}
EVENT = {
    "metadata": {"name": "e", "namespace": "default"},
    "involvedObject": {
        "kind": "Node",
        "name": "n1",
        "uid": "u-1",
        "apiVersion": "v1",
        "resourceVersion": "42",
        "fieldPath": "spec",
    },
    "reason": "NodeReady",
    "type": "Normal",
    "source": {"component": "kubelet", "host": "n1"},
    "reportingComponent": "miniplane",
}


@pytest.mark.parametrize(
    ("resource", "obj", "expected"),
    [
        pytest.param(
            "pods",
            POD,
            {
                "metadata.name": "p",
                "metadata.namespace": "default",
                "spec.nodeName": "n1",
                "spec.restartPolicy": "Always",
                "spec.schedulerName": "default-scheduler",
                "spec.serviceAccountName": "default",
                "spec.hostNetwork": "true",
                "status.phase": "Running",
                "status.podIP": "10.0.0.5",
                "status.nominatedNodeName": "n2",
            },
            id="pod-full",
        ),
        pytest.param(
            "pods",
            {"metadata": {"name": "p", "namespace": "default"}},
            {
                "metadata.name": "p",
                "metadata.namespace": "default",
                "spec.nodeName": "",
                "spec.restartPolicy": "",
                "spec.schedulerName": "",
                "spec.serviceAccountName": "",
                "spec.hostNetwork": "false",
                "status.phase": "",
                "status.podIP": "",
                "status.nominatedNodeName": "",
            },
            id="pod-bare",
        ),
        pytest.param(
            "nodes",
            {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
            {"metadata.name": "n1", "metadata.namespace": "", "spec.unschedulable": "true"},
            id="node-cordoned",
        ),
        pytest.param(
            "nodes",
            {"metadata": {"name": "n1"}, "spec": {}},
            {"metadata.name": "n1", "metadata.namespace": "", "spec.unschedulable": "false"},
            id="node-schedulable",
        ),
        pytest.param(
            "namespaces",
            {"metadata": {"name": "ns"}, "status": {"phase": "Terminating"}},
            {"metadata.name": "ns", "metadata.namespace": "", "status.phase": "Terminating"},
            id="namespace",
        ),
        pytest.param(
            "events",
            EVENT,
            {
                "metadata.name": "e",
                "metadata.namespace": "default",
                "involvedObject.kind": "Node",
                "involvedObject.namespace": "",
                "involvedObject.name": "n1",
                "involvedObject.uid": "u-1",
                "involvedObject.apiVersion": "v1",
                "involvedObject.resourceVersion": "42",
                "involvedObject.fieldPath": "spec",
                "reason": "NodeReady",
                "type": "Normal",
                "source": "kubelet",
                "reportingComponent": "miniplane",
            },
            id="event-cluster-scoped-subject",
        ),
        pytest.param(
            "daemonsets.apps",
            {"metadata": {"name": "ds", "namespace": "kube-system"}, "spec": {"nodeName": "ignored"}},
            {"metadata.name": "ds", "metadata.namespace": "kube-system"},
            id="metadata-only-kind",
        ),
        pytest.param(
            "widgets",
            {"metadata": {"name": "w"}},
            {"metadata.name": "w", "metadata.namespace": ""},
            id="unknown",
        ),
    ],
)
def test_selectable_fields(resource: str, obj: dict[str, Any], expected: dict[str, str]) -> None:
    assert selectable_fields(resource, obj) == expected


@pytest.mark.parametrize(
    ("obj", "field", "expected"),
    [
        pytest.param({"metadata": {"name": "p"}, "spec": None}, "spec.nodeName", "", id="null-section"),
        pytest.param({"metadata": {"name": "p"}, "spec": "x"}, "spec.nodeName", "", id="section-not-object"),
        pytest.param({"metadata": {"name": "p"}, "spec": {"nodeName": 5}}, "spec.nodeName", "", id="not-str"),
        pytest.param({"spec": {"hostNetwork": "yes"}}, "spec.hostNetwork", "false", id="flag-not-bool"),
        pytest.param({"metadata": None}, "metadata.name", "", id="null-metadata"),
    ],
)
def test_malformed_objects_read_as_empty(obj: dict[str, Any], field: str, expected: str) -> None:
    assert selectable_fields("pods", obj)[field] == expected


@pytest.mark.parametrize("resource", [r.key for r in RESOURCES])
def test_supported_fields_are_exactly_the_selectable_ones(resource: str) -> None:
    assert SUPPORTED_FIELDS[resource] == set(selectable_fields(resource, {}))
    assert SUPPORTED_FIELDS[resource] >= METADATA_FIELDS


@pytest.mark.parametrize(
    ("resource", "field", "supported"),
    [
        pytest.param("pods", "spec.nodeName", True, id="pod-node"),
        pytest.param("pods", "spec.unschedulable", False, id="pod-not-node-field"),
        pytest.param("nodes", "spec.unschedulable", True, id="node-unschedulable"),
        pytest.param("events", "involvedObject.uid", True, id="event-uid"),
        pytest.param("daemonsets.apps", "status.phase", False, id="ds-phase"),
    ],
)
def test_supported_fields(resource: str, field: str, supported: bool) -> None:
    assert (field in SUPPORTED_FIELDS[resource]) is supported
