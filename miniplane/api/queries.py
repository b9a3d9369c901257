"""Query parameters of list, watch and write requests."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson
from multidict import MultiMapping

from miniplane.objects import errors
from miniplane.objects.service import WriteOptions
from miniplane.resources.fields import SUPPORTED_FIELDS
from miniplane.resources.registry import ResourceInfo
from miniplane.selectors import FieldSelector, LabelSelector, SelectorError
from miniplane.store.base import Query

_TRUE = ("true", "1")


@dataclass(frozen=True, slots=True)
class ListOptions:
    """What a list or watch asks for."""

    query: Query
    limit: int = 0
    continue_after: tuple[str, str] | None = None  # (namespace, name) of the last item served
    resource_version: str = ""
    watch: bool = False
    bookmarks: bool = False
    send_initial_events: bool | None = None
    timeout: float | None = None
    include_object: str = "Metadata"


def _flag(params: MultiMapping[str], name: str) -> bool:
    return params.get(name, "").lower() in _TRUE


def _int(params: MultiMapping[str], name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"{name}: invalid value {value!r}: must be an integer") from None
    if number < 0:
        raise errors.bad_request(f"{name}: invalid value {number}: must be non-negative")
    if number >= 2**63:
        raise errors.bad_request(f"{name}: invalid value {value!r}: must be a 64-bit integer")
    return number


def list_options(info: ResourceInfo, namespace: str | None, params: MultiMapping[str]) -> ListOptions:
    """Parse and check list/watch parameters; 400 for bad selectors or unsupported field labels."""
    try:
        labels = LabelSelector.parse(params.get("labelSelector", ""))
        fields = FieldSelector.parse(params.get("fieldSelector", ""))
    except SelectorError as err:
        raise errors.bad_request(f"unable to parse requirement: {err}") from None
    supported = SUPPORTED_FIELDS.get(info.key, frozenset({"metadata.name", "metadata.namespace"}))
    for requirement in fields.requirements:
        if requirement.field not in supported:
            raise errors.bad_request(f"field label not supported: {requirement.field}")
    query = Query(namespace, None if labels.empty else labels, None if fields.empty else fields)
    include = params.get("includeObject", "Metadata") or "Metadata"
    if include not in ("None", "Metadata", "Object"):
        raise errors.bad_request(f'includeObject: Unsupported value: "{include}"')
    initial = params.get("sendInitialEvents")
    return ListOptions(
        query=query,
        limit=_int(params, "limit") or 0,
        continue_after=_decode_continue(params.get("continue", "")),
        resource_version=params.get("resourceVersion", ""),
        watch=_flag(params, "watch"),
        bookmarks=_flag(params, "allowWatchBookmarks"),
        send_initial_events=None if initial is None else initial.lower() in _TRUE,
        timeout=_int(params, "timeoutSeconds"),
        include_object=include,
    )


def encode_continue(namespace: str, name: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([namespace, name])).decode()


def _decode_continue(token: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        namespace, name = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return str(namespace), str(name)
    except (ValueError, TypeError):
        raise errors.bad_request("continue key is not valid: the token is malformed") from None


def write_options(params: MultiMapping[str], user_agent: str) -> WriteOptions:
    """dryRun, fieldValidation, fieldManager and force of a write."""
    dry_run = params.getall("dryRun", [])
    for value in dry_run:
        if value != "All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    validation = params.get("fieldValidation", "") or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(
            f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore", "Strict", "Warn"'
        )
    manager = params.get("fieldManager", "") or user_agent.split("/", 1)[0]
    return WriteOptions(bool(dry_run), validation, manager[:128], _flag(params, "force"))
