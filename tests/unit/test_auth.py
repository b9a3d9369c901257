"""Pure authentication and authorization logic: tokens and NodeRestriction decisions."""

from __future__ import annotations

import pytest

from miniplane.auth.authorize import Attributes, decide, forbidden_message, needs_bound_node, request_verb
from miniplane.auth.identity import SUPERUSER, User, node_user
from miniplane.auth.tokens import JoinToken, NodeTokens, parse_join_token

NODE_A = node_user("node-a")
BOB = User("bob", ("system:authenticated",))


def test_join_token_round_trip_and_bare_secret() -> None:
    token = JoinToken("ab" * 32, "s3cret")
    assert str(token) == f"K10{'ab' * 32}::server:s3cret"
    assert parse_join_token(str(token)) == token
    assert parse_join_token("  plain-secret\n") == JoinToken("", "plain-secret")


def test_node_tokens_verify_only_their_own_key_and_name() -> None:
    tokens = NodeTokens(b"k" * 32)
    token = tokens.issue("node-a")
    assert tokens.verify(token) == "node-a"
    assert tokens.issue("node-a") == token  # stable: a re-joining node keeps its credential
    assert NodeTokens(b"x" * 32).verify(token) is None
    forged = token.replace(token.split(".")[1], tokens.issue("node-b").split(".")[1])
    assert tokens.verify(forged) is None
    for junk in ("", "node.", "node.!!!.x", "Bearer", "node.bm9kZS1h"):
        assert tokens.verify(junk) is None


def test_node_tokens_remember_only_verified_tokens() -> None:
    tokens = NodeTokens(b"k" * 32)
    token = tokens.issue("node-a")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for _ in range(3):  # answered from the cache after the first time, the same way
        assert tokens.verify(token) == "node-a"
        assert tokens.verify(forged) is None
    assert NodeTokens(b"x" * 32).verify(token) is None  # a cache belongs to its key


def test_node_token_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("miniplane.auth.tokens.VERIFIED_CACHE", 2)
    tokens = NodeTokens(b"k" * 32)
    names = [f"node-{i}" for i in range(5)]
    for name in names * 2:
        assert tokens.verify(tokens.issue(name)) == name
    assert len(tokens._verified) <= 2


def test_identities() -> None:
    assert NODE_A.node == "node-a" and not NODE_A.is_admin
    assert SUPERUSER.is_admin and SUPERUSER.node is None
    assert User("system:node:x").node is None  # the group is required too


@pytest.mark.parametrize(
    ("method", "has_name", "watch", "verb"),
    [
        ("GET", True, False, "get"),
        ("GET", False, False, "list"),
        ("GET", False, True, "watch"),
        ("POST", False, False, "create"),
        ("PUT", True, False, "update"),
        ("PATCH", True, False, "patch"),
        ("DELETE", True, False, "delete"),
        ("DELETE", False, False, "deletecollection"),
    ],
)
def test_request_verbs(method: str, has_name: bool, watch: bool, verb: str) -> None:
    assert request_verb(method, has_name, watch) == verb


ALLOWED = [
    Attributes("list", "", "pods"),
    Attributes("watch", "", "pods"),
    Attributes("get", "", "nodes", name="node-b"),
    Attributes("patch", "", "nodes", "status", name="node-a"),
    Attributes("create", "", "nodes", name="node-a"),
    Attributes("update", "coordination.k8s.io", "leases", namespace="kube-node-lease", name="node-a"),
    Attributes("create", "", "events", namespace="default"),
]


@pytest.mark.parametrize("attrs", ALLOWED, ids=lambda a: f"{a.verb}-{a.resource}-{a.subresource}")
def test_a_node_may_do_what_a_kubelet_does(attrs: Attributes) -> None:
    assert decide(NODE_A, attrs) is None


DENIED = [
    (
        Attributes("patch", "", "nodes", name="node-b"),
        None,
        'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"',
    ),
    (
        Attributes("patch", "", "pods", "status", "default", "p"),
        "node-b",
        'pods "p" is forbidden: node "node-a" can only update pod status for pods with spec.nodeName set to itself',
    ),
    (
        Attributes("delete", "", "pods", "", "default", "p"),
        "node-b",
        'pods "p" is forbidden: node "node-a" can only delete pods with spec.nodeName set to itself',
    ),
    (
        Attributes("patch", "apps", "daemonsets", "", "default", "ds"),
        None,
        'daemonsets.apps "ds" is forbidden: User "system:node:node-a" cannot patch resource "daemonsets" '
        'in API group "apps" in the namespace "default"',
    ),
    (
        Attributes("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "node-b"),
        None,
        'leases.coordination.k8s.io "node-b" is forbidden: '
        "can only access node lease with the same name as the requesting node",
    ),
    (
        Attributes("delete", "", "nodes", name="node-a"),
        None,
        'nodes "node-a" is forbidden: User "system:node:node-a" cannot delete resource "nodes" '
        'in API group "" at the cluster scope',
    ),
]


@pytest.mark.parametrize(("attrs", "bound", "message"), DENIED, ids=lambda v: getattr(v, "resource", None))
def test_node_restriction_denials_read_like_kubernetes(attrs: Attributes, bound: str | None, message: str) -> None:
    denial = decide(NODE_A, attrs, bound)
    assert denial is not None
    assert forbidden_message(attrs, denial) == message


def test_pod_writes_need_the_bound_node_and_pass_for_own_pods() -> None:
    status = Attributes("patch", "", "pods", "status", "default", "p")
    assert needs_bound_node(NODE_A, status)
    assert not needs_bound_node(SUPERUSER, status)
    assert decide(NODE_A, status, "node-a") is None
    assert decide(NODE_A, Attributes("delete", "", "pods", "", "default", "p"), "node-a") is None


def test_admin_may_do_anything_and_others_nothing() -> None:
    attrs = Attributes("delete", "apps", "daemonsets", "", "default", "ds")
    assert decide(SUPERUSER, attrs) is None
    denial = decide(BOB, Attributes("list", "", "pods", namespace="default"))
    assert denial is not None and 'User "bob" cannot list resource "pods"' in denial.reason
