"""Toleration matching, one row per rule of §1.1."""

from __future__ import annotations

from typing import Any

import pytest

from miniplane.scheduling.taints import SCHEDULING_EFFECTS, first_untolerated, tolerates

TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, TAINT, True),
        ({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, TAINT, True),
        ({"key": "dedicated", "operator": "Equal", "value": "cpu"}, TAINT, False),
        ({"key": "dedicated", "operator": "Exists"}, TAINT, True),
        ({"operator": "Exists"}, TAINT, True),
        ({"operator": "Exists", "effect": "NoExecute"}, TAINT, False),
        ({"key": "other", "operator": "Exists"}, TAINT, False),
        ({"key": "k", "operator": "Equal"}, {"key": "k", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "operator": "Gt", "value": "gpu"}, TAINT, False),
        ({"key": "dedicated", "operator": "Exists", "tolerationSeconds": 0}, TAINT, True),
    ],
    ids=[
        "equal key value effect",
        "omitted operator means Equal",
        "different value",
        "Exists ignores the value",
        "empty key with Exists tolerates everything",
        "effect must match when given",
        "different key",
        "empty value matches empty taint value",
        "unknown operator matches nothing",
        "tolerationSeconds plays no part",
    ],
)
def test_tolerates(toleration: dict[str, Any], taint: dict[str, Any], expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_prefer_no_schedule_is_never_an_untolerated_scheduling_taint() -> None:
    taints = [{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "NoExecute"}]
    assert first_untolerated(taints, [], SCHEDULING_EFFECTS) == taints[1]
    assert first_untolerated(taints[:1], [], SCHEDULING_EFFECTS) is None
