"""Validation of updates: immutable identity, and what the update left unchanged not checked again."""

from __future__ import annotations

from miniplane.resources.metavalidation import object_meta_update
from miniplane.resources.validation import validate

OLD = {"name": "n1", "namespace": "kube-node-lease", "uid": "u1", "labels": {"a": "b"}}


def fields(causes: list[dict[str, str]]) -> list[str]:
    return [c["field"] for c in causes]


def test_changed_labels_are_validated() -> None:
    causes = object_meta_update({**OLD, "labels": {"a": "-bad-"}}, OLD)
    assert fields(causes) == ["metadata.labels"]


def test_changed_owner_references_are_validated() -> None:
    refs = [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": ""}]
    assert fields(object_meta_update({**OLD, "ownerReferences": refs}, OLD)) == ["metadata.ownerReferences.uid"]


def test_identity_is_immutable() -> None:
    causes = object_meta_update({**OLD, "name": "n2", "uid": "u2"}, OLD)
    assert fields(causes) == ["metadata.name", "metadata.uid"]


def test_unchanged_metadata_is_not_checked_again() -> None:
    grandfathered = {**OLD, "labels": {"a": "-bad-"}}  # stored before a rule existed, like Kubernetes' ratcheting
    assert object_meta_update(dict(grandfathered), grandfathered) == []


def node(capacity: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": "n1", "uid": "u1"}, "status": {"capacity": capacity, "allocatable": capacity}}


def test_changed_node_capacities_are_validated() -> None:
    causes = validate("Node", node({"cpu": "-1"}), node({"cpu": "4"}))
    assert fields(causes) == ["status.capacity.cpu", "status.allocatable.cpu"]


def test_unchanged_node_capacities_are_not_checked_again() -> None:
    assert validate("Node", node({"cpu": "-1"}), node({"cpu": "-1"})) == []
    assert fields(validate("Node", node({"cpu": "-1"}))) == ["status.capacity.cpu", "status.allocatable.cpu"]
