"""Request bodies: JSON or YAML into plain data, with size and depth limits.

Hostile input (deep nesting, YAML alias bombs, non-object documents) becomes a 400 ``Status``. YAML
loads as the JSON it stands for, as Kubernetes converts it: timestamps stay strings, keys become strings,
integers beyond 64 bits become floats, and tags JSON has no value for (``!!binary``, ``!!set``) are refused.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import orjson
import yaml

from miniplane.objects import errors

MAX_DEPTH = 100
_INT_RANGE = range(-(2**63), 2**64)  # what a JSON number decodes to as an integer


class _JSONLoader(yaml.SafeLoader):
    """Safe YAML into JSON data, without anchors/aliases (no billion-laughs expansion) nor nesting
    deeper than ``MAX_DEPTH`` (the composer recurses per level); the pure-Python loader, because the C
    one does not call ``compose_node``."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not accepted")
        if self.depth >= MAX_DEPTH:
            raise _too_deep(MAX_DEPTH)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Hashable, Any]:
        """A mapping with JSON's string keys, converted before they meet (YAML's ``1`` and ``true`` are
        different keys, Python's ``1`` and ``True`` the same)."""
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(None, None, "expected a mapping", node.start_mark)
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a scalar", key_node.start_mark
                )
            mapping[_json_key(key)] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_json_int(self, node: Any) -> int | float:
        try:
            value: int = self.construct_yaml_int(node)
            return value if value in _INT_RANGE else float(value)
        except (OverflowError, ValueError):  # ValueError: more digits than int() converts
            raise yaml.constructor.ConstructorError(None, None, "integer out of range", node.start_mark) from None

    def construct_text(self, node: Any) -> str:
        return str(self.construct_scalar(node))

    def refuse(self, node: Any) -> None:
        raise yaml.constructor.ConstructorError(None, None, f"{node.tag} has no JSON value", node.start_mark)


_JSONLoader.add_constructor("tag:yaml.org,2002:int", _JSONLoader.construct_json_int)
_JSONLoader.add_constructor("tag:yaml.org,2002:timestamp", _JSONLoader.construct_text)
for _tag in ("binary", "set", "omap", "pairs"):
    _JSONLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _JSONLoader.refuse)


def _json_key(key: Any) -> str:
    """A mapping key as JSON has it (YAML allows numbers, booleans and null)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return orjson.dumps(key).decode()
    return str(key)


def _too_deep(limit: int) -> errors.APIError:
    return errors.bad_request(f"the request body nests deeper than {limit} levels")


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """400 if the data nests deeper than ``limit`` levels."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise _too_deep(limit)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def load_json(body: bytes) -> Any:
    """Parse a JSON body; 400 with the parser's message when it is malformed."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise errors.bad_request(f"the request body is not valid JSON: {err}") from None
    if body.count(b"{") + body.count(b"[") >= MAX_DEPTH:  # n brackets nest at most n + 1 levels (with the leaves)
        check_depth(value)
    return value


def load_yaml_or_json(body: bytes) -> Any:
    """Parse a body that is JSON or YAML (server-side apply sends either)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            value = yaml.load(body, Loader=_JSONLoader)  # noqa: S506 - a safe loader without aliases
        except yaml.YAMLError as err:
            raise errors.bad_request(f"the request body is not valid YAML or JSON: {err}") from None
    check_depth(value)
    return value
