"""``list_body`` joins stored bytes into a valid ``…List`` (no items, one, several; with a continue token)."""

from __future__ import annotations

import orjson
import pytest

from miniplane.api.responses import list_body
from miniplane.resources.registry import BY_KEY
from miniplane.store.base import StoredObject


def _node(i: int) -> StoredObject:
    return StoredObject("nodes", "", f"n{i}", i + 1, orjson.dumps({"metadata": {"name": f"n{i}"}}), {}, {})


@pytest.mark.parametrize("count", [0, 1, 3])
def test_list_body_is_a_list_of_the_stored_objects(count: int) -> None:
    items = [_node(i) for i in range(count)]
    body = orjson.loads(list_body(BY_KEY["nodes"], items, 42, "token", 7))
    assert body["kind"] == "NodeList" and body["apiVersion"] == "v1"
    assert body["metadata"] == {"resourceVersion": "42", "continue": "token", "remainingItemCount": 7}
    assert [item["metadata"]["name"] for item in body["items"]] == [f"n{i}" for i in range(count)]
    assert items == [_node(i) for i in range(count)]  # the stored objects are left as they were
