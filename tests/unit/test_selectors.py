"""Label and field selectors: parsing, validation, matching, canonical form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from miniplane.selectors import (
    FieldRequirement,
    FieldSelector,
    LabelRequirement,
    LabelSelector,
    SelectorError,
)

WEB = {"app": "web", "tier": "front", "example.com/team": "a"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        pytest.param("", {}, True, id="empty-matches-nothing-set"),
        pytest.param("   ", WEB, True, id="blank-matches-all"),
        pytest.param("app=web", WEB, True, id="eq"),
        pytest.param("app==web", WEB, True, id="double-eq"),
        pytest.param("app=db", WEB, False, id="eq-other-value"),
        pytest.param("missing=web", WEB, False, id="eq-missing-key"),
        pytest.param("app!=db", WEB, True, id="neq"),
        pytest.param("app!=web", WEB, False, id="neq-same-value"),
        pytest.param("missing!=x", WEB, True, id="neq-missing-key-matches"),
        pytest.param("app in (db,web)", WEB, True, id="in"),
        pytest.param("app in (db)", WEB, False, id="in-not-listed"),
        pytest.param("missing in (x)", WEB, False, id="in-missing-key"),
        pytest.param("app notin (db)", WEB, True, id="notin"),
        pytest.param("app notin (db,web)", WEB, False, id="notin-listed"),
        pytest.param("missing notin (x)", WEB, True, id="notin-missing-key-matches"),
        pytest.param("tier", WEB, True, id="exists"),
        pytest.param("missing", WEB, False, id="exists-missing"),
        pytest.param("!missing", WEB, True, id="not-exists"),
        pytest.param("!tier", WEB, False, id="not-exists-present"),
        pytest.param("app=web,tier=front", WEB, True, id="and-both"),
        pytest.param("app=web,tier=back", WEB, False, id="and-one-fails"),
        pytest.param("example.com/team=a", WEB, True, id="prefixed-key"),
        pytest.param("empty=", {"empty": ""}, True, id="empty-value"),
        pytest.param("empty=", {}, False, id="empty-value-missing-key"),
        pytest.param(" app = web , tier ", WEB, True, id="whitespace"),
        pytest.param("app in(web)", WEB, True, id="in-no-space"),
        pytest.param("x=in", {"x": "in"}, True, id="keyword-as-value"),
        pytest.param("x in (,a)", {"x": ""}, True, id="in-empty-entry"),
    ],
)
def test_label_selector_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("b=1,a=2", "a=2,b=1", id="sorted-by-key"),
        pytest.param("a==1", "a=1", id="double-eq"),
        pytest.param("a in (y, x)", "a in (x,y)", id="in-values-sorted"),
        pytest.param("a in (x)", "a=x", id="single-in-is-eq"),
        pytest.param("a notin (x)", "a!=x", id="single-notin-is-neq"),
        pytest.param("a notin (x,y)", "a notin (x,y)", id="notin"),
        pytest.param("!b,a", "a,!b", id="exists"),
        pytest.param("a=", "a=", id="empty-value"),
    ],
)
def test_label_selector_canonical_form(text: str, canonical: str) -> None:
    selector = LabelSelector.parse(text)
    assert str(selector) == canonical
    assert LabelSelector.parse(canonical) == selector


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a=b,", "expected a label key", id="trailing-comma"),
        pytest.param(",a", "expected a label key", id="leading-comma"),
        pytest.param("=b", "found '='", id="missing-key"),
        pytest.param("a b", "found 'b'", id="two-words"),
        pytest.param("a in x", "expected '('", id="in-without-parens"),
        pytest.param("a in (x", "expected ',' or ')'", id="unclosed"),
        pytest.param("a in (x y)", "expected ',' or ')'", id="missing-comma"),
        pytest.param("a in ()", "can't be empty", id="empty-set"),
        pytest.param("a=(", "expected a value", id="paren-as-value"),
        pytest.param("!", "after '!'", id="bare-bang"),
        pytest.param("!a=b", "found '='", id="bang-with-value"),
        pytest.param("a=b=c", "found '='", id="two-equals"),
        pytest.param("-a=b", "invalid label key", id="key-starts-with-dash"),
        pytest.param("Bad_Prefix/a=b", "prefix must be a DNS subdomain", id="bad-prefix"),
        pytest.param("a=" + "x" * 64, "invalid label value", id="value-too-long"),
        pytest.param("a=b!", "found '!'", id="bang-in-value"),
        pytest.param("a=-b", "invalid label value", id="value-starts-with-dash"),
    ],
)
def test_label_selector_rejects(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=re.escape(message)):
        LabelSelector.parse(text)


@pytest.mark.parametrize(
    ("api", "canonical"),
    [
        pytest.param({}, "", id="empty"),
        pytest.param({"matchLabels": {"app": "web", "a": "b"}}, "a=b,app=web", id="match-labels"),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["x", "y"]}]},
            "app in (x,y)",
            id="in",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, "app!=x", id="notin"
        ),
        pytest.param({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "app", id="exists"),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "DoesNotExist", "values": []}]},
            "!app",
            id="does-not-exist",
        ),
        pytest.param(
            {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "app", "operator": "Exists"}]},
            "app=web,app",
            id="both",
        ),
        pytest.param({"matchLabels": None, "matchExpressions": None}, "", id="nulls"),
    ],
)
def test_label_selector_from_api(api: dict[str, Any], canonical: str) -> None:
    assert str(LabelSelector.from_api(api)) == canonical


@pytest.mark.parametrize(
    ("api", "message"),
    [
        pytest.param({"matchLabels": ["app"]}, "matchLabels must be an object", id="labels-not-object"),
        pytest.param({"matchExpressions": {"a": 1}}, "matchExpressions a list", id="expressions-not-list"),
        pytest.param({"matchExpressions": ["app"]}, "must be objects", id="expression-not-object"),
        pytest.param({"matchExpressions": [{"key": "a", "operator": "Gt"}]}, "not a valid", id="bad-operator"),
        pytest.param({"matchExpressions": [{"key": "a", "operator": "In"}]}, "can't be empty", id="in-no-values"),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "values must be empty",
            id="exists-with-values",
        ),
        pytest.param({"matchLabels": {"a": 1}}, "must be a string", id="value-not-string"),
        pytest.param({"matchExpressions": [{"operator": "Exists"}]}, "must be a string", id="key-missing"),
        pytest.param({"matchLabels": {"a b": "c"}}, "invalid label key", id="bad-key"),
    ],
)
def test_label_selector_from_api_rejects(api: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError, match=re.escape(message)):
        LabelSelector.from_api(api)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", (), id="none"),
        pytest.param("a=b,c in (x,y),d!=e,f,!g", (("a", {"b"}), ("c", {"x", "y"})), id="eq-and-in"),
    ],
)
def test_label_selector_equality_requirements(text: str, expected: tuple[tuple[str, set[str]], ...]) -> None:
    assert LabelSelector.parse(text).equality_requirements == tuple((k, frozenset(v)) for k, v in expected)


def test_label_selector_empty() -> None:
    assert LabelSelector().empty
    assert LabelSelector.parse("").empty
    assert not LabelSelector.parse("a").empty
    assert LabelSelector.parse("a") == LabelSelector((LabelRequirement("a", "Exists"),))


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        pytest.param("", {}, True, id="empty"),
        pytest.param("metadata.name=a", {"metadata.name": "a"}, True, id="eq"),
        pytest.param("metadata.name==a", {"metadata.name": "a"}, True, id="double-eq"),
        pytest.param("metadata.name=b", {"metadata.name": "a"}, False, id="eq-other"),
        pytest.param("status.phase!=Failed", {"status.phase": "Running"}, True, id="neq"),
        pytest.param("status.phase!=Failed", {"status.phase": "Failed"}, False, id="neq-same"),
        pytest.param("status.phase!=Succeeded,status.phase!=Failed", {"status.phase": "Running"}, True, id="neq-twice"),
        pytest.param("involvedObject.namespace=", {"involvedObject.namespace": ""}, True, id="empty-value"),
        pytest.param("involvedObject.namespace=", {}, True, id="missing-is-empty"),
        pytest.param("spec.nodeName!=", {}, False, id="neq-empty-missing"),
        pytest.param("a=x,b=y", {"a": "x", "b": "z"}, False, id="and"),
        pytest.param(r"a=x\,y\=z\\", {"a": "x,y=z\\"}, True, id="escapes"),
        pytest.param("a=x,,b=y", {"a": "x", "b": "y"}, True, id="empty-term-skipped"),
        pytest.param("a=x!", {"a": "x!"}, True, id="bang-in-value"),
        pytest.param(" a =x", {"a": "x"}, True, id="key-whitespace"),
    ],
)
def test_field_selector_matches(text: str, fields: dict[str, str], expected: bool) -> None:
    assert FieldSelector.parse(text).matches(fields) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a", "expected '=', '==' or '!='", id="no-operator"),
        pytest.param("=a", "missing field name", id="no-field"),
        pytest.param("a==b=c", "unescaped '='", id="unescaped-equals"),
        pytest.param(r"a=b\x", "invalid escape sequence", id="bad-escape"),
        pytest.param("a=b\\", "trailing backslash", id="trailing-backslash"),
    ],
)
def test_field_selector_rejects(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=re.escape(message)):
        FieldSelector.parse(text)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        pytest.param("spec.nodeName=n1", "spec.nodeName", "n1", id="eq"),
        pytest.param("spec.nodeName=", "spec.nodeName", "", id="empty"),
        pytest.param("spec.nodeName!=n1", "spec.nodeName", None, id="neq-is-not-a-value"),
        pytest.param("metadata.name=a", "spec.nodeName", None, id="other-field"),
    ],
)
def test_field_selector_required_value(text: str, field: str, expected: str | None) -> None:
    assert FieldSelector.parse(text).required_value(field) == expected


def test_field_selector_requirements_and_text() -> None:
    selector = FieldSelector.parse(r"b!=x\,y,a==1")
    assert selector.requirements == (FieldRequirement("a", "=", "1"), FieldRequirement("b", "!=", "x,y"))
    assert str(selector) == r"a=1,b!=x\,y"
    assert not selector.empty
    assert FieldSelector.parse("").empty


_KEY = st.sampled_from(["a", "app", "k8s.io/app", "x-y", "in", "notin", "A.b_c"])
_VALUE = st.sampled_from(["", "v", "web", "in", "1.2-3_x"])
_REQUIREMENT = st.one_of(
    st.builds(
        LabelRequirement,
        _KEY,
        st.sampled_from(["In", "NotIn"]),
        st.frozensets(_VALUE, min_size=1, max_size=3),
    ),
    st.builds(LabelRequirement, _KEY, st.sampled_from(["Exists", "DoesNotExist"])),
)


@given(st.lists(_REQUIREMENT, max_size=4))
def test_label_selector_text_round_trips(reqs: list[LabelRequirement]) -> None:
    selector = LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))
    assert LabelSelector.parse(str(selector)) == selector


@given(st.lists(st.builds(FieldRequirement, _KEY, st.sampled_from(["=", "!="]), st.text(max_size=8)), max_size=4))
def test_field_selector_text_round_trips(reqs: list[FieldRequirement]) -> None:
    selector = FieldSelector(tuple(sorted(reqs, key=lambda r: r.field)))
    assert FieldSelector.parse(str(selector)) == selector
