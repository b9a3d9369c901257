"""Request bodies: JSON or YAML into plain data, with size and depth limits.

Hostile input (deep nesting, YAML alias bombs, non-object documents) becomes a 400 ``Status``.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from miniplane.objects import errors

MAX_DEPTH = 100


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases (no billion-laughs expansion); the pure-Python loader,
    because the C one does not call ``compose_node``."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not accepted")
        return super().compose_node(parent, index)


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """400 if the data nests deeper than ``limit`` levels."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise errors.bad_request(f"the request body nests deeper than {limit} levels")
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
    check_depth(value)
    return value


def load_yaml_or_json(body: bytes) -> Any:
    """Parse a body that is JSON or YAML (server-side apply sends either)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            value = yaml.load(body, Loader=_NoAliasLoader)  # noqa: S506 - a safe loader without aliases
        except yaml.YAMLError as err:
            raise errors.bad_request(f"the request body is not valid YAML or JSON: {err}") from None
    check_depth(value)
    return value
