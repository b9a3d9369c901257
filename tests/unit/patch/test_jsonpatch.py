"""RFC 6902 JSON patch: the RFC's own examples, pointer escaping, and clear errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from miniplane.patch import PatchError, json_patch

from .objects import DAEMONSET


def op(name: str, path: str, **members: Any) -> dict[str, Any]:
    return {"op": name, "path": path, **members}


@pytest.mark.parametrize(
    ("target", "ops", "expected"),
    [
        pytest.param(
            {"foo": "bar"}, [op("add", "/baz", value="qux")], {"baz": "qux", "foo": "bar"}, id="A1-add-member"
        ),
        pytest.param(
            {"foo": ["bar", "baz"]},
            [op("add", "/foo/1", value="qux")],
            {"foo": ["bar", "qux", "baz"]},
            id="A2-insert",
        ),
        pytest.param({"baz": "qux", "foo": "bar"}, [op("remove", "/baz")], {"foo": "bar"}, id="A3-remove-member"),
        pytest.param(
            {"foo": ["bar", "qux", "baz"]},
            [op("remove", "/foo/1")],
            {"foo": ["bar", "baz"]},
            id="A4-remove-item",
        ),
        pytest.param(
            {"baz": "qux", "foo": "bar"},
            [op("replace", "/baz", value="boo")],
            {"baz": "boo", "foo": "bar"},
            id="A5",
        ),
        pytest.param(
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
            id="A6-move-member",
        ),
        pytest.param(
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
            id="A7-move-item",
        ),
        pytest.param(
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [op("test", "/baz", value="qux"), op("test", "/foo/1", value=2)],
            {"baz": "qux", "foo": ["a", 2, "c"]},
            id="A8-test",
        ),
        pytest.param(
            {"foo": "bar"},
            [op("add", "/child", value={"grandchild": {}})],
            {"foo": "bar", "child": {"grandchild": {}}},
            id="A10",
        ),
        pytest.param(
            {"foo": "bar"},
            [op("add", "/baz", value="qux", xyz=123)],
            {"foo": "bar", "baz": "qux"},
            id="A11-extra",
        ),
        pytest.param({"/": 9, "~1": 10}, [op("test", "/~01", value=10)], {"/": 9, "~1": 10}, id="A14-escape-order"),
        pytest.param(
            {"foo": ["bar"]},
            [op("add", "/foo/-", value=["abc", "def"])],
            {"foo": ["bar", ["abc", "def"]]},
            id="A16",
        ),
        pytest.param({"a/b": 1}, [op("replace", "/a~1b", value=2)], {"a/b": 2}, id="slash-escape"),
        pytest.param({"a": 1}, [op("replace", "", value={"b": 2})], {"b": 2}, id="replace-root"),
        pytest.param({"a": 1}, [op("add", "", value=[1])], [1], id="add-root"),
        pytest.param(
            {"a": {"b": [1]}},
            [{"op": "copy", "from": "/a", "path": "/c"}],
            {"a": {"b": [1]}, "c": {"b": [1]}},
            id="copy",
        ),
        pytest.param({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}, id="move-to-itself"),
        pytest.param({"a": None}, [op("test", "/a", value=None)], {"a": None}, id="test-null"),
        pytest.param({"a": 1}, [op("test", "/a", value=1.0)], {"a": 1}, id="test-int-equals-float"),
        pytest.param({"a": [1, 2]}, [op("add", "/a/2", value=3)], {"a": [1, 2, 3]}, id="insert-at-end"),
    ],
)
def test_rfc6902_operations(target: Any, ops: list[Any], expected: Any) -> None:
    before = copy.deepcopy(target)
    assert json_patch(target, ops) == expected
    assert before == target


@pytest.mark.parametrize(
    ("target", "ops", "message"),
    [
        pytest.param({"baz": "qux"}, [op("test", "/baz", value="bar")], "test failed", id="A9-test-fails"),
        pytest.param({"foo": "bar"}, [op("add", "/baz/bat", value="qux")], "no key 'baz'", id="A12-missing-parent"),
        pytest.param(
            {"foo": {"bar": 10}},
            [op("test", "/foo/bar", value="10")],
            "test failed",
            id="A15-string-vs-number",
        ),
        pytest.param({"a": True}, [op("test", "/a", value=1)], "test failed", id="bool-is-not-int"),
        pytest.param({"a": 1}, [op("remove", "/b")], "no key 'b'", id="remove-missing"),
        pytest.param({"a": 1}, [op("replace", "/b", value=1)], "no key 'b'", id="replace-missing"),
        pytest.param({"a": 1}, [op("remove", "")], "whole document", id="remove-root"),
        pytest.param({"a": [1]}, [op("add", "/a/2", value=1)], "out of range", id="index-out-of-range"),
        pytest.param({"a": [1]}, [op("remove", "/a/1")], "out of range", id="remove-past-end"),
        pytest.param({"a": [1]}, [op("add", "/a/01", value=1)], "not a list index", id="leading-zero"),
        pytest.param({"a": [1]}, [op("remove", "/a/-")], "not a list index", id="dash-outside-add"),
        pytest.param({"a": [1]}, [op("add", "/a/-1", value=1)], "not a list index", id="negative-index"),
        pytest.param({"a": 1}, [op("add", "/a/b", value=1)], "scalar", id="add-into-scalar"),
        pytest.param({"a": 1}, [op("add", "a", value=1)], "must start with '/'", id="relative-pointer"),
        pytest.param({"a": 1}, [op("add", "/~2", value=1)], "invalid '~' escape", id="bad-escape"),
        pytest.param({"a": 1}, [op("add", "/b")], 'missing "value"', id="missing-value"),
        pytest.param({"a": 1}, [{"op": "add", "value": 1}], 'non-string "path"', id="missing-path"),
        pytest.param({"a": 1}, [{"op": "copy", "path": "/b"}], 'non-string "from"', id="missing-from"),
        pytest.param({"a": 1}, [op("frobnicate", "/a")], "unknown operation 'frobnicate'", id="unknown-op"),
        pytest.param({"a": 1}, ["add"], "must be an object", id="op-not-object"),
        pytest.param(
            {"a": {"b": 1}},
            [{"op": "move", "from": "/a", "path": "/a/b/c"}],
            "own children",
            id="move-into-child",
        ),
    ],
)
def test_errors(target: Any, ops: list[Any], message: str) -> None:
    with pytest.raises(PatchError, match=message) as info:
        json_patch(target, ops)
    assert info.value.code == 422


def test_error_names_the_operation_and_leaves_target_untouched() -> None:
    before = copy.deepcopy(DAEMONSET)
    ops = [op("replace", "/spec/minReadySeconds", value=9), op("remove", "/spec/nope")]
    with pytest.raises(PatchError, match=r"json patch operation 1 \(remove /spec/nope\)"):
        json_patch(DAEMONSET, ops)
    assert before == DAEMONSET


def test_kubectl_patch_type_json() -> None:
    result = json_patch(DAEMONSET, [op("replace", "/spec/minReadySeconds", value=5)])
    assert result["spec"]["minReadySeconds"] == 5
    result["spec"]["template"]["spec"]["containers"].clear()
    assert DAEMONSET["spec"]["template"]["spec"]["containers"]


def test_added_values_are_copied() -> None:
    value = {"k": ["v"]}
    result = json_patch({}, [op("add", "/a", value=value), {"op": "copy", "from": "/a", "path": "/b"}])
    result["a"]["k"].append("x")
    assert value == {"k": ["v"]}
    assert result["b"] == {"k": ["v"]}
