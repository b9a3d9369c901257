"""Handlers for resource paths: get, list, watch, create, update, patch, delete, deletecollection,
and the pod subresources ``binding`` and ``eviction``."""

from __future__ import annotations

import bisect
from typing import Any

from aiohttp import web

from miniplane.api import node_proxy, protobuf, watch
from miniplane.api.node_proxy import HTTPConnector
from miniplane.api.paths import Target
from miniplane.api.queries import ListOptions, encode_continue, list_options, write_options
from miniplane.api.responses import json_bytes, json_response, list_body, table_body, wants_table
from miniplane.objects import errors
from miniplane.objects.bodies import load_json
from miniplane.objects.service import PATCH_TYPES, ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.resources.tables import INCLUDE_OBJECT_VALUES
from miniplane.store import errors as store_errors
from miniplane.store.base import StoredObject
from miniplane.timeutil import rfc3339, utcnow

PROTOBUF = "application/vnd.kubernetes.protobuf"
_BODY = "miniplane.body"  # request key: the parsed request body
_ALL_NAMESPACES = None


class ResourceHandlers:
    """Dispatches a resolved ``Target`` by HTTP method."""

    def __init__(self, service: ObjectService, connector: HTTPConnector) -> None:
        self.service = service
        self.connector = connector

    async def handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        method = request.method
        namespace = target.namespace or ""
        if target.subresource == "log" and method == "GET":
            return await node_proxy.serve_log(request, self.service, self.connector, namespace, target.name)
        if target.subresource == "exec" and method in ("GET", "POST"):
            return await node_proxy.serve_exec(request, self.service, self.connector, namespace, target.name)
        if target.namespace is not None and target.info.namespaced and method in ("POST", "PUT", "PATCH"):
            await self.service.ensure_namespace(target.namespace)
        if target.is_collection:
            if method == "GET":
                return await self._list(request, target)
            if method == "POST":
                return await self._create(request, target)
            if method == "DELETE":
                return await self._delete_collection(request, target)
        else:
            if method == "GET" and not target.subresource or target.subresource == "status" and method == "GET":
                return await self._get(request, target)
            if method == "PUT":
                return await self._update(request, target)
            if method == "PATCH":
                return await self._patch(request, target)
            if method == "DELETE" and not target.subresource:
                return await self._delete(request, target)
            if method == "POST" and target.subresource == "binding":
                return await self._bind(request, target)
            if method == "POST" and target.subresource == "eviction":
                return await self._evict(request, target)
        raise errors.method_not_allowed()

    # ---- reads -------------------------------------------------------------------------------

    async def _get(self, request: web.Request, target: Target) -> web.StreamResponse:
        obj = await self.service.get(target.info, target.namespace or "", target.name)
        if wants_table(request):
            return json_bytes(table_body(target.info, [obj.decode()], obj.rv, _include(request)))
        return json_bytes(obj.raw)

    async def _list(self, request: web.Request, target: Target) -> web.StreamResponse:
        opts = list_options(target.info, target.namespace, request.query)
        if opts.watch:
            return await watch.serve(request, self.service.store, target.info, opts)
        if opts.send_initial_events is not None:
            raise errors.APIError(422, "Invalid", "sendInitialEvents is forbidden for list requests")
        items, rv = await self.service.list_objects(target.info, opts.query)
        items, cont, remaining = _page(items, opts)
        if wants_table(request):
            return json_bytes(table_body(target.info, [i.decode() for i in items], rv, opts.include_object, cont))
        return json_bytes(list_body(target.info, items, rv, cont, remaining))

    # ---- writes ------------------------------------------------------------------------------

    async def _create(self, request: web.Request, target: Target) -> web.StreamResponse:
        body = await read_object(request)
        opts = write_options(request.query, request.headers.get("User-Agent", ""))
        result = await self.service.create(target.info, target.namespace or "", body, opts)
        return json_bytes(result.raw, 201, result.warnings)

    async def _update(self, request: web.Request, target: Target) -> web.StreamResponse:
        body = await read_object(request)
        opts = write_options(request.query, request.headers.get("User-Agent", ""))
        result = await self.service.update(
            target.info, target.namespace or "", target.name, body, opts, target.subresource
        )
        return json_bytes(result.raw, 200, result.warnings)

    async def _patch(self, request: web.Request, target: Target) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(content_type, PATCH_TYPES)
        opts = write_options(request.query, request.headers.get("User-Agent", ""))
        body = await request.read()
        result = await self.service.patch(
            target.info, target.namespace or "", target.name, content_type, body, opts, target.subresource
        )
        return json_bytes(result.raw, 201 if result.created else 200, result.warnings)

    async def _delete(self, request: web.Request, target: Target) -> web.StreamResponse:
        options = await _read_delete_options(request)
        if not isinstance(options.get("dryRun") or [], list):
            raise errors.bad_request("DeleteOptions.dryRun must be a list of strings")
        dry_run = request.query.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])
        if "gracePeriodSeconds" in request.query:
            options["gracePeriodSeconds"] = _int_param(request.query["gracePeriodSeconds"])
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        raw, _ = await self.service.delete(target.info, target.namespace or "", target.name, options, dry_run)
        return json_bytes(raw)

    async def _delete_collection(self, request: web.Request, target: Target) -> web.StreamResponse:
        opts = list_options(target.info, target.namespace, request.query)
        options = await _read_delete_options(request)
        items, _ = await self.service.list_objects(target.info, opts.query)
        deleted: list[StoredObject] = []
        for item in items:
            try:
                await self.service.delete(target.info, item.namespace, item.name, options)
            except errors.APIError as err:
                if err.code != 404:
                    raise
            deleted.append(item)
        return json_bytes(list_body(target.info, deleted, self.service.store.current_rv))

    async def _bind(self, request: web.Request, target: Target) -> web.StreamResponse:
        body = await read_object(request)
        node = (body.get("target") or {}).get("name") if isinstance(body.get("target"), dict) else None
        if not node:
            raise errors.invalid(
                target.info,
                target.name,
                [{"reason": "FieldValueRequired", "field": "target.name", "message": "Required value"}],
            )
        await bind_pod(self.service, target.namespace or "", target.name, node)
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )

    async def _evict(self, request: web.Request, target: Target) -> web.StreamResponse:
        body = await read_object(request)
        options = body.get("deleteOptions") or {}
        if not isinstance(options, dict):
            raise errors.bad_request("deleteOptions must be an object")
        await self.service.delete(target.info, target.namespace or "", target.name, options)
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )


async def bind_pod(service: ObjectService, namespace: str, name: str, node: str) -> None:
    """Set ``spec.nodeName`` once (409 if already bound) and mark the pod scheduled."""
    pods = BY_KEY["pods"]
    stored = await service.get(pods, namespace, name)
    pod = stored.decode()
    bound = pod.get("spec", {}).get("nodeName")
    if bound:
        raise errors.conflict(pods, name, f'pod {name} is already assigned to node "{bound}"')
    if pod["metadata"].get("deletionTimestamp"):
        raise errors.conflict(pods, name, f"pod {name} is being deleted, cannot be assigned to a host")
    pod["spec"]["nodeName"] = node
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions", []) if c.get("type") != "PodScheduled"]
    conditions.insert(
        0,
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": rfc3339(utcnow()),
        },
    )
    status["conditions"] = conditions
    pod["metadata"]["resourceVersion"] = str(stored.rv)
    try:
        await service.store.update(pods.key, pod, expect_rv=stored.rv)
    except (store_errors.Conflict, store_errors.NotFound) as err:  # changed since ``stored`` was read
        raise errors.from_store(err, pods) from None


def _page(items: list[StoredObject], opts: ListOptions) -> tuple[list[StoredObject], str, int]:
    """One page of ``items`` (sorted by namespace and name): the ``limit`` after the continue token's key."""
    if opts.continue_after is not None:
        items = items[bisect.bisect_right(items, opts.continue_after, key=_sort_key) :]
    if opts.limit and len(items) > opts.limit:
        last = items[opts.limit - 1]
        return items[: opts.limit], encode_continue(last.namespace, last.name), len(items) - opts.limit
    return items, "", 0


def _sort_key(obj: StoredObject) -> tuple[str, str]:
    return obj.namespace, obj.name


def _include(request: web.Request) -> str:
    include = request.query.get("includeObject", "Metadata") or "Metadata"
    if include not in INCLUDE_OBJECT_VALUES:
        raise errors.bad_request(f'includeObject: Unsupported value: "{include}"')
    return include


def _int_param(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not -(2**63) <= number < 2**63:
        raise errors.bad_request(f"invalid integer {value!r}")
    return number


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request body as an object: JSON, or kubectl's protobuf Namespace/DeleteOptions.

    Parsed once per request: authorization may read the name of a node's Node or Lease before the
    handler reads the body to create it (the same dict, unchanged by that first reader).
    """
    parsed: dict[str, Any] | None = request.get(_BODY)
    if parsed is None:
        parsed = request[_BODY] = await _parse_object(request)
    return parsed


async def _parse_object(request: web.Request) -> dict[str, Any]:
    body = await request.read()
    if request.headers.get("Content-Type", "").startswith(PROTOBUF):
        try:
            return protobuf.decode(body)
        except ValueError as err:
            raise errors.unsupported_media_type(PROTOBUF, ["application/json", "application/yaml"]) from err
    obj = load_json(body) if body.strip() else None
    if not isinstance(obj, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return obj


async def _read_delete_options(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.read()
    if not body.strip():
        return {}
    return await read_object(request)
