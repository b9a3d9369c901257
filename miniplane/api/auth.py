"""Authentication and authorization of API requests, and the two endpoints agents use to join.

- ``authenticate`` (middleware): a TLS client certificate signed by the cluster CA (``CN`` is the
  user, each ``O`` a group) or a node bearer token identifies the caller; anything else gets 401,
  except the health endpoints, ``/cacerts`` and the join endpoint.
- ``authorize``: the pure ``miniplane.auth.authorize.decide`` applied to a resolved resource path,
  with the pod's node looked up when NodeRestriction needs it.
- ``GET /cacerts`` serves the CA (an agent checks it against the hash in its join token);
  ``POST /v1-miniplane/join`` exchanges the join token for a node's own bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from miniplane.api.paths import Target
from miniplane.api.resources import read_object
from miniplane.api.responses import json_response
from miniplane.auth import authorize as authz
from miniplane.auth.identity import AUTHENTICATED_GROUP, REQUEST_USER, SUPERUSER, User, node_user
from miniplane.auth.tokens import NodeTokens, parse_join_token, same
from miniplane.objects import errors
from miniplane.objects.service import ObjectService
from miniplane.resources.formats import dns_subdomain
from miniplane.resources.registry import BY_KEY
from miniplane.wire.join import CACERTS_PATH, JOIN_PATH

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", CACERTS_PATH, JOIN_PATH})


@dataclass(frozen=True, slots=True)
class Security:
    """The server's credentials; ``enabled`` False only with ``--insecure-http``."""

    tokens: NodeTokens
    join_secret: str
    ca_pem: bytes = b""
    enabled: bool = True


SECURITY: web.AppKey[Security] = web.AppKey("security", Security)


def unauthorized() -> errors.APIError:
    return errors.APIError(401, "Unauthorized", "Unauthorized")


def identify(request: web.Request, security: Security) -> User | None:
    """The caller from its verified client certificate or its node bearer token."""
    transport = request.transport
    peer = transport.get_extra_info("peercert") if transport is not None else None
    if peer:
        subject = [attr for rdn in peer.get("subject", ()) for attr in rdn]
        names = [value for key, value in subject if key == "commonName"]
        groups = tuple(value for key, value in subject if key == "organizationName")
        if names:
            return User(names[0], (*groups, AUTHENTICATED_GROUP))
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        node = security.tokens.verify(token.strip())
        if node is not None:
            return node_user(node)
    return None


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Attach the caller (``request["user"]``) or answer 401."""
    security = request.app[SECURITY]
    if not security.enabled:
        request[REQUEST_USER] = SUPERUSER
        return await handler(request)
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    user = identify(request, security)
    if user is None:
        raise unauthorized()
    request[REQUEST_USER] = user
    return await handler(request)


async def authorize(request: web.Request, service: ObjectService, target: Target) -> None:
    """Raise 403 unless the caller may make this resource request."""
    user: User | None = request.get(REQUEST_USER)
    if user is None or user.is_admin:
        return
    watch = request.method in ("GET", "HEAD") and request.query.get("watch", "").lower() in ("true", "1")
    verb = authz.request_verb(request.method, bool(target.name), watch)
    if target.subresource == "exec":
        verb = "create"
    name = target.name
    if not name and verb == "create" and user.node is not None and target.info.plural in ("nodes", "leases"):
        metadata = (await read_object(request)).get("metadata")
        name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
    attrs = authz.Attributes(
        verb, target.info.group, target.info.plural, target.subresource, target.namespace or "", name
    )
    bound: str | None = None
    if authz.needs_bound_node(user, attrs):
        try:
            pod = (await service.get(BY_KEY["pods"], attrs.namespace, attrs.name)).decode()
        except errors.APIError:
            return  # the handler answers 404 itself
        bound = pod.get("spec", {}).get("nodeName") or ""
    denial = authz.decide(user, attrs, bound)
    if denial is not None:
        details: dict[str, Any] = {"name": attrs.name, "kind": attrs.resource}
        if attrs.group:
            details["group"] = attrs.group
        raise errors.APIError(403, "Forbidden", authz.forbidden_message(attrs, denial), details)


def require_admin(request: web.Request) -> None:
    """For non-resource paths only the admin may read (``/metrics``)."""
    user: User | None = request.get(REQUEST_USER)
    if user is not None and not user.is_admin:
        denial = authz.non_resource_denial(user, "get", request.path)
        raise errors.APIError(403, "Forbidden", f"forbidden: {denial.reason}")


async def cacerts(request: web.Request) -> web.StreamResponse:
    """The CA certificate, PEM (public: the join token's hash is what makes it trusted)."""
    security = request.app[SECURITY]
    if not security.ca_pem:
        raise errors.unknown_path()
    return web.Response(body=security.ca_pem, content_type="application/x-pem-file")


async def join(request: web.Request) -> web.StreamResponse:
    """Exchange the join token (bearer) for the named node's own token."""
    security = request.app[SECURITY]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same(parse_join_token(given).secret, security.join_secret):
        raise unauthorized()
    body = await read_object(request)
    node = body.get("nodeName")
    if not isinstance(node, str) or not node:
        raise errors.bad_request("nodeName: a node name is required")
    problems = dns_subdomain(node)
    if problems:
        raise errors.APIError(422, "Invalid", f"nodeName {node!r}: {'; '.join(problems)}")
    user = node_user(node)
    return json_response(
        {"nodeName": node, "user": user.name, "groups": list(user.groups[:1]), "token": security.tokens.issue(node)}
    )
