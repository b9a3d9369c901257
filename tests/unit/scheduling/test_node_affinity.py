"""Node selection: nodeSelector and required node affinity, every operator."""

from __future__ import annotations

from typing import Any

import pytest

from miniplane.scheduling.node_affinity import matches_node_selector_terms, matches_pod_node_affinity

NODE = {"metadata": {"name": "n1", "labels": {"disk": "ssd", "cores": "8", "zone": "a"}}}


def term(*expressions: dict[str, Any], fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"matchExpressions": list(expressions)}
    if fields is not None:
        result["matchFields"] = fields
    return result


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ([term(expr("disk", "In", "ssd", "hdd"))], True),
        ([term(expr("disk", "In", "hdd"))], False),
        ([term(expr("gpu", "In", "yes"))], False),
        ([term(expr("disk", "NotIn", "hdd"))], True),
        ([term(expr("gpu", "NotIn", "yes"))], True),
        ([term(expr("disk", "NotIn", "ssd"))], False),
        ([term(expr("disk", "Exists"))], True),
        ([term(expr("gpu", "Exists"))], False),
        ([term(expr("gpu", "DoesNotExist"))], True),
        ([term(expr("disk", "DoesNotExist"))], False),
        ([term(expr("cores", "Gt", "4"))], True),
        ([term(expr("cores", "Gt", "8"))], False),
        ([term(expr("cores", "Lt", "10"))], True),
        ([term(expr("disk", "Gt", "1"))], False),
        ([term(expr("cores", "Gt", "x"))], False),
        ([term(expr("cores", "Gt", "1", "2"))], False),
        ([term(expr("disk", "In"))], False),
        ([term(expr("disk", "Exists", "ssd"))], False),
        ([term(expr("disk", "Like", "ssd"))], False),
        ([term(expr("disk", "In", "ssd"), expr("zone", "In", "b"))], False),
        ([term(expr("disk", "In", "hdd")), term(expr("zone", "In", "a"))], True),
        ([term(expr("disk", "In")), term(expr("zone", "In", "a"))], True),
        ([], False),
        ([{}], False),
        ([term(fields=[expr("metadata.name", "In", "n1")])], True),
        ([term(fields=[expr("metadata.name", "In", "n2")])], False),
        ([term(fields=[expr("metadata.name", "NotIn", "n2")])], True),
        ([term(fields=[expr("metadata.name", "In", "n1", "n2")])], False),
        ([term(fields=[expr("metadata.name", "Exists")])], False),
        ([term(expr("disk", "In", "ssd"), fields=[expr("metadata.name", "In", "n2")])], False),
    ],
    ids=[
        "In matches one of the values",
        "In with another value",
        "In on a missing label",
        "NotIn with another value",
        "NotIn on a missing label",
        "NotIn with the node's value",
        "Exists",
        "Exists on a missing label",
        "DoesNotExist on a missing label",
        "DoesNotExist on a present label",
        "Gt compares integers",
        "Gt is strict",
        "Lt",
        "Gt on a non-integer label",
        "Gt with a non-integer value is an invalid term",
        "Gt with two values is an invalid term",
        "In without values is an invalid term",
        "Exists with values is an invalid term",
        "unknown operator is an invalid term",
        "expressions in a term are ANDed",
        "terms are ORed",
        "an invalid term does not spoil the others",
        "no terms match nothing",
        "an empty term matches nothing",
        "matchFields metadata.name In",
        "matchFields metadata.name In another node",
        "matchFields NotIn",
        "matchFields needs exactly one value",
        "matchFields supports only In and NotIn",
        "matchFields and matchExpressions are ANDed",
    ],
)
def test_node_selector_terms(terms: list[dict[str, Any]], expected: bool) -> None:
    assert matches_node_selector_terms({"nodeSelectorTerms": terms}, NODE) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, True),
        ({"nodeSelector": {"disk": "ssd"}}, True),
        ({"nodeSelector": {"disk": "ssd", "zone": "b"}}, False),
        ({"affinity": {"nodeAffinity": {}}}, True),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": None}}}, True),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}}, False),
        (
            {
                "nodeSelector": {"disk": "ssd"},
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [term(expr("zone", "In", "b"))]
                        },
                        "preferredDuringSchedulingIgnoredDuringExecution": [],
                    }
                },
            },
            False,
        ),
    ],
    ids=[
        "nothing required",
        "nodeSelector matches",
        "every nodeSelector pair must match",
        "node affinity without required terms",
        "null required affinity",
        "required affinity with no terms matches nothing",
        "nodeSelector AND required affinity",
    ],
)
def test_pod_node_affinity(spec: dict[str, Any], expected: bool) -> None:
    assert matches_pod_node_affinity(spec, NODE) is expected
