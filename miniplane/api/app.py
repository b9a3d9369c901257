"""The aiohttp application: routing, discovery, OpenAPI, health, and errors as ``Status`` bodies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from miniplane import __version__, metrics
from miniplane.api import auth, discovery, paths
from miniplane.api.limits import LIMITS, WATCHES, WatchCounter, WatchLimits
from miniplane.api.node_proxy import HTTPConnector
from miniplane.api.resources import ResourceHandlers
from miniplane.api.responses import json_bytes, json_response
from miniplane.auth.tokens import NodeTokens
from miniplane.objects import errors
from miniplane.objects.service import ObjectService
from miniplane.schema import openapi
from miniplane.store.base import Store

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
STORE: web.AppKey[Store] = web.AppKey("store", Store)
SERVICE: web.AppKey[ObjectService] = web.AppKey("service", ObjectService)
CONNECTOR: web.AppKey[HTTPConnector] = web.AppKey("connector", HTTPConnector)

VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": f"v1.37.0-miniplane.{__version__}",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-24T00:00:00Z",
    "goVersion": "python3",
    "compiler": "cpython",
    "platform": "linux/amd64",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def status_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as a Kubernetes ``Status``; the server never dies of a request."""
    try:
        return await handler(request)
    except errors.APIError as err:
        return _status_response(err)
    except web.HTTPRequestEntityTooLarge:
        return _status_response(errors.too_large(MAX_BODY))
    except web.HTTPException as exc:
        if exc.status == 404:
            return _status_response(errors.unknown_path())
        if exc.status == 405:
            return _status_response(errors.method_not_allowed())
        return _status_response(errors.APIError(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason))
    except Exception:
        log.exception("internal error serving %s %s", request.method, request.path)
        return _status_response(errors.APIError(500, "InternalError", "an internal error occurred; see the server log"))


def _status_response(err: errors.APIError) -> web.Response:
    response = json_response(err.status(), err.code)
    if err.details and "retryAfterSeconds" in err.details:
        response.headers["Retry-After"] = str(err.details["retryAfterSeconds"])
    return response


def _server_address(request: web.Request) -> str:
    return request.host or "127.0.0.1:6443"


async def api_root(request: web.Request) -> web.StreamResponse:
    if discovery.wants_aggregated(request.headers.get("Accept", "")):
        response = json_response(discovery.aggregated(core=True))
        response.content_type = discovery.AGGREGATED_CONTENT_TYPE
        response.headers["Content-Type"] = discovery.AGGREGATED_CONTENT_TYPE
        return response
    return json_response(discovery.api_versions(_server_address(request)))


async def apis_root(request: web.Request) -> web.StreamResponse:
    if discovery.wants_aggregated(request.headers.get("Accept", "")):
        response = json_response(discovery.aggregated(core=False))
        response.headers["Content-Type"] = discovery.AGGREGATED_CONTENT_TYPE
        return response
    return json_response(discovery.api_group_list())


async def core_api(request: web.Request) -> web.StreamResponse:
    rest = [p for p in request.match_info["tail"].split("/") if p]
    if not rest:
        return json_response(discovery.api_versions(_server_address(request)))
    version, rest = rest[0], rest[1:]
    return await _serve(request, "", version, rest)


async def group_api(request: web.Request) -> web.StreamResponse:
    parts = [p for p in request.match_info["tail"].split("/") if p]
    if len(parts) < 2:
        doc = discovery.api_group(parts[0]) if parts else None
        if doc is None:
            raise errors.unknown_path()
        return json_response(doc)
    return await _serve(request, parts[0], parts[1], parts[2:])


async def _serve(request: web.Request, group: str, version: str, rest: list[str]) -> web.StreamResponse:
    if not rest:
        doc = discovery.api_resource_list(group, version)
        if doc is None or request.method != "GET":
            raise errors.unknown_path()
        return json_response(doc)
    target = paths.parse(group, version, rest)
    if target is None:
        raise errors.unknown_path()
    request[metrics.TARGET] = target
    await auth.authorize(request, request.app[SERVICE], target)
    return await ResourceHandlers(request.app[SERVICE], request.app[CONNECTOR]).handle(request, target)


async def openapi_v3(request: web.Request) -> web.StreamResponse:
    tail = request.match_info.get("tail", "").strip("/")
    if not tail:
        return json_response(openapi.openapi_index())
    doc = openapi.openapi_document(tail)
    if doc is None:
        raise errors.unknown_path()
    return json_bytes(doc)


async def version(request: web.Request) -> web.StreamResponse:
    return json_response(VERSION)


async def healthy(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


async def metrics_text(request: web.Request) -> web.StreamResponse:
    """``/metrics`` in Prometheus' text format (the admin only, as in Kubernetes)."""
    auth.require_admin(request)
    return metrics.response(request.app[STORE].statistics())


def create_app(
    store: Store,
    connector: HTTPConnector | None = None,
    security: auth.Security | None = None,
    watch_limits: WatchLimits | None = None,
) -> web.Application:
    """The API server over ``store``; ``connector`` reaches node agents (logs, exec); ``security``
    holds the credentials (None: no authentication, as with ``--insecure-http``)."""
    middlewares = [metrics.request_metrics, status_errors, auth.authenticate]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[auth.SECURITY] = security or auth.Security(NodeTokens(b""), "", enabled=False)
    app[STORE] = store
    app[LIMITS] = watch_limits or WatchLimits()
    app[WATCHES] = WatchCounter(app[LIMITS].per_client)
    app[SERVICE] = ObjectService(store)
    app[CONNECTOR] = connector or HTTPConnector(None)
    app.router.add_get("/api", api_root)
    app.router.add_get("/apis", apis_root)
    app.router.add_route("*", "/api/{tail:.*}", core_api)
    app.router.add_route("*", "/apis/{tail:.*}", group_api)
    app.router.add_get("/openapi/v3", openapi_v3)
    app.router.add_get("/openapi/v3/{tail:.*}", openapi_v3)
    app.router.add_get("/version", version)
    for path in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(path, healthy)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get(auth.CACERTS_PATH, auth.cacerts)
    app.router.add_post(auth.JOIN_PATH, auth.join)
    return app
