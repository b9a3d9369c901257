"""Who may do what: the admin everything, a node what a kubelet may (Node authorizer + NodeRestriction).

Pure decisions over request attributes. ``decide`` returns None to allow, or a ``Denial`` whose
message follows Kubernetes' wording, for example
``User "system:node:a" cannot patch resource "daemonsets" in API group "apps" in the namespace "default"``
or NodeRestriction's ``node "a" is not allowed to modify node "b"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from miniplane.auth.identity import User

NODE_LEASE_NAMESPACE = "kube-node-lease"
READ_VERBS = frozenset({"get", "list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "patch"})
NODE_READABLE = frozenset({"nodes", "pods", "namespaces", "leases"})


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a resource request asks for, as Kubernetes' authorizers see it."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a request is forbidden (the text after ``is forbidden: ``)."""

    reason: str


def request_verb(method: str, has_name: bool, watch: bool) -> str:
    """Kubernetes' verb for an HTTP method on an object (``has_name``) or a collection."""
    if method in ("GET", "HEAD"):
        return "get" if has_name else ("watch" if watch else "list")
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(
        method, "delete" if has_name else "deletecollection"
    )


def needs_bound_node(user: User, attrs: Attributes) -> bool:
    """Whether ``decide`` needs the node a pod is bound to (looked up by the caller)."""
    if user.node is None or attrs.resource != "pods" or not attrs.name:
        return False
    return (
        (attrs.verb == "delete" and not attrs.subresource)
        or (attrs.subresource == "status" and attrs.verb in ("update", "patch"))
        or (attrs.subresource == "eviction" and attrs.verb == "create")
    )


def decide(user: User, attrs: Attributes, bound_node: str | None = None) -> Denial | None:
    """None if ``user`` may do ``attrs``; ``bound_node`` is the pod's ``spec.nodeName`` when needed."""
    if user.is_admin:
        return None
    node = user.node
    if node is None:
        return _rbac(user, attrs)
    if attrs.verb in READ_VERBS and not attrs.subresource and attrs.resource in NODE_READABLE:
        return None
    if attrs.resource == "nodes" and attrs.verb in WRITE_VERBS and attrs.subresource in ("", "status"):
        return None if attrs.name == node else Denial(f'node "{node}" is not allowed to modify node "{attrs.name}"')
    if attrs.resource == "leases" and attrs.verb in WRITE_VERBS | {"delete"}:
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return Denial(f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace')
        if attrs.name != node:
            return Denial("can only access node lease with the same name as the requesting node")
        return None
    if attrs.resource == "events" and attrs.verb in WRITE_VERBS:
        return None
    if attrs.resource == "pods":
        return _pod(user, node, attrs, bound_node)
    return _rbac(user, attrs)


def _pod(user: User, node: str, attrs: Attributes, bound_node: str | None) -> Denial | None:
    if attrs.subresource == "status" and attrs.verb in ("update", "patch"):
        if bound_node != node:
            return Denial(f'node "{node}" can only update pod status for pods with spec.nodeName set to itself')
        return None
    if attrs.subresource == "" and attrs.verb == "delete":
        if bound_node != node:
            return Denial(f'node "{node}" can only delete pods with spec.nodeName set to itself')
        return None
    if attrs.subresource == "eviction" and attrs.verb == "create":
        if bound_node != node:
            return Denial(f"node {node} can only evict pods with spec.nodeName set to itself")
        return None
    if attrs.subresource == "" and attrs.verb == "create":
        return Denial(
            f'pod does not have "kubernetes.io/config.mirror" annotation, node "{node}" can only create mirror pods'
        )
    return _rbac(user, attrs)


def _rbac(user: User, attrs: Attributes) -> Denial:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return Denial(f'User "{user.name}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}" {where}')


def forbidden_message(attrs: Attributes, denial: Denial) -> str:
    """The whole ``Status`` message: ``daemonsets.apps "x" is forbidden: ...``."""
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    if attrs.name:
        return f'{qualified} "{attrs.name}" is forbidden: {denial.reason}'
    return f"{qualified} is forbidden: {denial.reason}"


def non_resource_denial(user: User, verb: str, path: str) -> Denial:
    return Denial(f'User "{user.name}" cannot {verb} path "{path}"')
