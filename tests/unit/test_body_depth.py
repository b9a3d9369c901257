"""``load_json``'s nesting limit: the bracket-count shortcut must agree with walking the data."""

from __future__ import annotations

import pytest

from miniplane.objects.bodies import MAX_DEPTH, load_json
from miniplane.objects.errors import APIError


@pytest.mark.parametrize("leaf", [b"", b"1", b'{"a":[]}'])
@pytest.mark.parametrize("depth", range(MAX_DEPTH - 3, MAX_DEPTH + 3))
def test_nesting_limit_holds_at_the_boundary(depth: int, leaf: bytes) -> None:
    body = b"[" * depth + leaf + b"]" * depth
    levels = depth + {b"": 0, b"1": 1}.get(leaf, 2)  # the walk counts a scalar as a level
    if levels > MAX_DEPTH:
        with pytest.raises(APIError) as err:
            load_json(body)
        assert err.value.code == 400
    else:
        assert load_json(body) is not None


def test_brackets_inside_strings_do_not_fail_a_shallow_body() -> None:
    body = b'{"metadata": {"name": "x", "annotations": {"a": "' + b"[{" * MAX_DEPTH + b'"}}}'
    assert load_json(body)["metadata"]["name"] == "x"
