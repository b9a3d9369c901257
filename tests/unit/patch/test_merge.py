"""RFC 7386 JSON merge patch: the RFC's own examples and kubectl's label/annotate bodies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from miniplane.patch import json_merge_patch

from .objects import NODE


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace-member"),
        pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="add-member"),
        pytest.param({"a": "b"}, {"a": None}, {}, id="null-deletes"),
        pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="null-deletes-one"),
        pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="scalar-replaces-list"),
        pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="list-replaces-scalar"),
        pytest.param({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="nested-merge"),
        pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="lists-replace"),
        pytest.param(["a", "b"], ["c", "d"], ["c", "d"], id="list-document"),
        pytest.param({"a": "b"}, ["c"], ["c"], id="list-replaces-object"),
        pytest.param({"a": "foo"}, None, None, id="null-document"),
        pytest.param({"a": "foo"}, "bar", "bar", id="scalar-document"),
        pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="target-nulls-kept"),
        pytest.param([1, 2], {"a": "b", "c": None}, {"a": "b"}, id="object-replaces-list"),
        pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="new-object-drops-nulls"),
    ],
)
def test_rfc7386_examples(target: Any, patch: Any, expected: Any) -> None:
    assert json_merge_patch(target, patch) == expected


HOSTNAME = {"kubernetes.io/hostname": "node-1"}


@pytest.mark.parametrize(
    ("patch", "labels"),
    [
        pytest.param(
            {"metadata": {"labels": {"zone": "a"}}},
            {**HOSTNAME, "accelerator": "gpu", "zone": "a"},
            id="label",
        ),
        pytest.param(
            {"metadata": {"labels": {"accelerator": "cpu"}}},
            {**HOSTNAME, "accelerator": "cpu"},
            id="overwrite",
        ),
        pytest.param({"metadata": {"labels": {"accelerator": None}}}, HOSTNAME, id="label-remove"),
    ],
)
def test_kubectl_label(patch: dict[str, Any], labels: dict[str, str]) -> None:
    before = copy.deepcopy(NODE)
    result = json_merge_patch(NODE, patch)
    assert result["metadata"]["labels"] == labels
    assert result["spec"] == NODE["spec"]
    assert before == NODE


def test_lists_are_replaced_not_merged() -> None:
    result = json_merge_patch(NODE, {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert result["status"]["conditions"] == [{"type": "Ready", "status": "False"}]


def test_result_shares_nothing_with_the_inputs() -> None:
    patch = {"metadata": {"annotations": {"a": {"nested": 1}}}}
    result = json_merge_patch(NODE, patch)
    result["metadata"]["annotations"]["a"]["nested"] = 2
    result["spec"]["taints"].clear()
    assert patch == {"metadata": {"annotations": {"a": {"nested": 1}}}}
    assert NODE["spec"]["taints"]
