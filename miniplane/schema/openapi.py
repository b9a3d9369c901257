"""OpenAPI v3 documents served at ``/openapi/v3`` and ``/openapi/v3/<group-version>``.

kubectl reads them for two decisions: whether a kind's PATCH operation accepts the ``fieldValidation``
query parameter (then it sends ``fieldValidation=Strict`` and leaves validation to the server, see
``strict``), and the component schemas behind ``kubectl explain`` and client-side strategic merge
patches. Each document is built once from ``RESOURCES`` and the 1.37 definitions, encoded, and cached
together with the content hash the index advertises.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

from miniplane.resources.registry import RESOURCES, ResourceInfo, Subresource, group_versions
from miniplane.schema.definitions import REF_PREFIX, Definition, definition_for_kind, definitions

OPENAPI_V3_PATH = "/openapi/v3"
COMPONENT_PREFIX = "#/components/schemas/"
PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_STATUS = _META + "Status"
_DELETE_OPTIONS = _META + "DeleteOptions"
_PATCH = _META + "Patch"
_RESOURCE_LIST = _META + "APIResourceList"

# Query parameters: name -> (schema type, description).
_PARAMS: dict[str, tuple[str, str]] = {
    "allowWatchBookmarks": ("boolean", "Request watch events with type BOOKMARK."),
    "command": ("string", "The command to run; repeat the parameter for each argument."),
    "container": ("string", "The container of the pod; may be omitted when the pod has one container."),
    "continue": ("string", "The continue token of a previous paged list."),
    "dryRun": ("string", "When All, the request is processed and answered but nothing is persisted."),
    "fieldManager": ("string", "Name of the actor making the change."),
    "fieldSelector": ("string", "Restrict the returned objects by their fields."),
    "fieldValidation": ("string", "How unknown fields in the body are handled: Ignore, Warn or Strict."),
    "follow": ("boolean", "Stream the log as it grows."),
    "force": ("boolean", "Force an apply request to take ownership of conflicting fields."),
    "gracePeriodSeconds": ("integer", "Seconds before the object is deleted; 0 deletes immediately."),
    "labelSelector": ("string", "Restrict the returned objects by their labels."),
    "limit": ("integer", "Maximum number of objects in one page of a list."),
    "limitBytes": ("integer", "Maximum number of bytes of log to return."),
    "previous": ("boolean", "Return the log of the previous, terminated container instance."),
    "propagationPolicy": ("string", "Garbage collection of dependents: Orphan, Background or Foreground."),
    "resourceVersion": ("string", "Resource version constraint of a read or the start of a watch."),
    "resourceVersionMatch": ("string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    "sendInitialEvents": ("boolean", "Start a watch with the current objects as ADDED events."),
    "sinceSeconds": ("integer", "Only log lines newer than this many seconds."),
    "stderr": ("boolean", "Redirect the standard error stream of the command."),
    "stdin": ("boolean", "Redirect the standard input stream of the command."),
    "stdout": ("boolean", "Redirect the standard output stream of the command."),
    "tailLines": ("integer", "Number of lines from the end of the log to return."),
    "timeoutSeconds": ("integer", "Timeout of a list or watch call."),
    "timestamps": ("boolean", "Prefix every log line with its RFC 3339 timestamp."),
    "tty": ("boolean", "Allocate a terminal for the command."),
    "watch": ("boolean", "Watch for changes instead of listing."),
}
_LIST_PARAMS = (
    "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
    "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch",
)  # fmt: skip
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_PARAMS = (*_WRITE_PARAMS, "force")
_DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "propagationPolicy")
_LOG_PARAMS = ("container", "follow", "limitBytes", "previous", "sinceSeconds", "tailLines", "timestamps")
_EXEC_PARAMS = ("command", "container", "stderr", "stdin", "stdout", "tty")


class _Verb(NamedTuple):
    """How an API verb appears as an OpenAPI operation."""

    method: str  # HTTP method, lower case
    action: str  # x-kubernetes-action
    word: str  # operationId prefix
    params: tuple[str, ...] = ()
    body: str = ""  # request body: "kind", "patch", "options" (DeleteOptions) or none
    response: str = "kind"  # "kind", "list", "status", "text" or "resources"


_COLLECTION_VERBS = {
    "list": _Verb("get", "list", "list", _LIST_PARAMS, response="list"),
    "create": _Verb("post", "post", "create", _WRITE_PARAMS, body="kind"),
    "deletecollection": _Verb(
        "delete", "deletecollection", "deleteCollection", _LIST_PARAMS + _DELETE_PARAMS, "options", "status"
    ),
}
_ITEM_VERBS = {
    "get": _Verb("get", "get", "read"),
    "update": _Verb("put", "put", "replace", _WRITE_PARAMS, body="kind"),
    "patch": _Verb("patch", "patch", "patch", _PATCH_PARAMS, body="patch"),
    "delete": _Verb("delete", "delete", "delete", _DELETE_PARAMS, "options", "status"),
}
_SUBRESOURCE_VERBS = {**_ITEM_VERBS, "create": _COLLECTION_VERBS["create"]}  # binding, eviction
# Subresources that answer plain text rather than an object.
_STREAM_VERBS = {
    "log": {"get": _Verb("get", "get", "read", _LOG_PARAMS, response="text")},
    "exec": {
        "get": _Verb("get", "connect", "connectGet", _EXEC_PARAMS, response="text"),
        "create": _Verb("post", "connect", "connectPost", _EXEC_PARAMS, response="text"),
    },
}


def gv_path(group: str, version: str) -> str:
    """The document name of a group version: ``api/v1`` or ``apis/apps/v1``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_index() -> dict[str, Any]:
    """The ``/openapi/v3`` index: every served group version and its content-hashed document URL."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"{OPENAPI_V3_PATH}/{path}?hash={digest}"}
            for path, (_, digest) in _documents().items()
        }
    }


def openapi_document(gv: str) -> bytes | None:
    """The encoded OpenAPI v3 document of group version ``gv`` (``apis/apps/v1``), or None if unknown."""
    entry = _documents().get(gv.strip("/"))
    return entry[0] if entry else None


@functools.cache
def _documents() -> dict[str, tuple[bytes, str]]:
    """Every document, encoded, with its content hash, by group-version path."""
    gvs = dict.fromkeys(group_versions())
    for r in RESOURCES:
        gvs.update({(s.group, s.version): None for s in r.subresources if s.group})
    docs = {}
    for group, version in gvs:
        body = orjson.dumps(_document(group, version), option=orjson.OPT_SORT_KEYS)
        docs[gv_path(group, version)] = (body, hashlib.sha512(body).hexdigest().upper())
    return docs


def _document(group: str, version: str) -> dict[str, Any]:
    """The OpenAPI v3 document of one group version."""
    prefix = "/" + gv_path(group, version)
    resources_op = _Verb("get", "get", "get", response="resources")
    paths: dict[str, Any] = {
        prefix + "/": {"get": _operation(resources_op, None, f"{_group_id(group, version)}APIResources", "")}
    }
    roots: list[str] = []  # besides what the paths reference: kinds served here only as a subresource
    for r in RESOURCES:
        if (r.group, r.version) == (group, version):
            paths.update(_resource_paths(r))
        roots += (
            _kind_definition(s.group, s.version, s.kind)
            for s in r.subresources
            if (s.group, s.version) == (group, version)
        )
    roots += (ref.removeprefix(COMPONENT_PREFIX) for ref in _refs(paths))
    return {
        "openapi": "3.0.0",
        "info": {"title": "miniplane", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": {name: _convert(definitions()[name]) for name in _closure(roots)}},
    }


def _resource_paths(r: ResourceInfo) -> dict[str, Any]:
    """Collection, item, all-namespaces list and subresource paths of one resource."""
    prefix = r.group_version_path
    scope = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
    op_id = _operation_id(r)
    gvk = _gvk(r.group, r.version, r.kind)
    kind = _kind_definition(r.group, r.version, r.kind)
    scope_params = [_path_param("namespace")] if r.namespaced else []
    item_params = [_path_param("name"), *scope_params]
    paths: dict[str, Any] = {
        scope: {
            **{v.method: _operation(v, gvk, op_id, kind) for k, v in _COLLECTION_VERBS.items() if k in r.verbs},
            "parameters": scope_params,
        },
        f"{scope}/{{name}}": {
            **{v.method: _operation(v, gvk, op_id, kind) for k, v in _ITEM_VERBS.items() if k in r.verbs},
            "parameters": item_params,
        },
    }
    if r.namespaced and "list" in r.verbs:
        op_id = _operation_id(r, scoped=False) + "ForAllNamespaces"
        paths[f"{prefix}/{r.plural}"] = {"get": _operation(_COLLECTION_VERBS["list"], gvk, op_id, kind)}
    for sub in r.subresources:
        paths[f"{scope}/{{name}}/{sub.name}"] = {**_subresource_operations(r, sub), "parameters": item_params}
    return paths


def _subresource_operations(r: ResourceInfo, sub: Subresource) -> dict[str, Any]:
    """The operations of one subresource path; their GVK is the subresource's kind."""
    group, version = sub.group or r.group, sub.version or r.version
    gvk = _gvk(group, version, sub.kind)
    op_id = _operation_id(r) + sub.name.capitalize()
    verbs = _STREAM_VERBS.get(sub.name, _SUBRESOURCE_VERBS)
    kind = "" if sub.name in _STREAM_VERBS else _kind_definition(group, version, sub.kind)
    return {v.method: _operation(v, gvk, op_id, kind) for k, v in verbs.items() if k in sub.verbs}


def _operation(verb: _Verb, gvk: dict[str, str] | None, op_id: str, kind: str) -> dict[str, Any]:
    """One operation object; ``kind`` is the definition name of the object it reads or writes."""
    schemas = {
        "kind": kind,
        "list": kind + "List",
        "status": _STATUS,
        "patch": _PATCH,
        "options": _DELETE_OPTIONS,
        "resources": _RESOURCE_LIST,
    }
    if verb.response == "text":
        content: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": _ref(schemas[verb.response])}}
    op: dict[str, Any] = {
        "operationId": verb.word + op_id,
        "parameters": [
            {"name": p, "in": "query", "description": _PARAMS[p][1], "schema": {"type": _PARAMS[p][0]}}
            for p in verb.params
        ],
        "responses": {"200": {"description": "OK", "content": content}},
        "x-kubernetes-action": verb.action,
    }
    if gvk is not None:
        op["x-kubernetes-group-version-kind"] = gvk
    if verb.method == "post" and verb.response != "text":
        op["responses"]["201"] = {"description": "Created", "content": content}
    if verb.body:
        types = PATCH_CONTENT_TYPES if verb.body == "patch" else ("*/*",)
        schema = _ref(schemas[verb.body])
        op["requestBody"] = {"content": {t: {"schema": schema} for t in types}, "required": True}
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENT_PREFIX + name}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _group_id(group: str, version: str) -> str:
    """The operationId spelling of a group version: ``CoreV1``, ``AppsV1``, ``CoordinationV1``."""
    name = "".join(p.capitalize() for p in group.removesuffix(".k8s.io").split(".")) or "Core"
    return name + version.capitalize()


def _operation_id(r: ResourceInfo, scoped: bool = True) -> str:
    """The operationId stem of a resource (``AppsV1NamespacedDaemonSet``), after the verb word."""
    namespaced = "Namespaced" if scoped and r.namespaced else ""
    return f"{_group_id(r.group, r.version)}{namespaced}{r.kind}"


def _kind_definition(group: str, version: str, kind: str) -> str:
    name = definition_for_kind(f"{group}/{version}" if group else version, kind)
    if name is None:
        raise LookupError(f"no definition for {group}/{version} {kind}")
    return name


def _refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` target in a JSON tree (as written, with its prefix)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(roots: list[str]) -> list[str]:
    """``roots`` and every definition they reach through ``$ref``, sorted."""
    defs = definitions()
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += (ref.removeprefix(REF_PREFIX) for ref in _refs(defs[name]))
    return sorted(seen)


def _convert(node: Any) -> Any:
    """A definition as OpenAPI 3.0: component ``$ref``s and ``type: [T, "null"]`` as ``type: T``."""
    if isinstance(node, list):
        return [_convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: Definition = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = COMPONENT_PREFIX + value.removeprefix(REF_PREFIX)
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if len(types) == 1 else types
        else:
            out[key] = _convert(value)
    return out
