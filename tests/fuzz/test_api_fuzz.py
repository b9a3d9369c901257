"""Fuzzing the API with hypothesis against a real server: every answer is a 2xx or a Kubernetes ``Status``
whose ``code`` is the HTTP status and below 500, and the server is alive and healthy at the end.

Three generators: (1) mutated seed objects of every kind (wrong types, dropped and extra fields, unicode,
huge numbers, deep nesting) sent with every verb (watch included), the four patch types, random query
parameters and Accept headers (Tables); (2) random paths and methods; (3) raw malformed bodies (bad JSON,
YAML, protobuf, UTF-8, content types). The budget is fixed (``derandomize``, ``max_examples``) so CI is
deterministic and the module runs in about 20 s. Pod ``log``/``exec`` are left out: they dial node
addresses, which fuzzed Nodes would point anywhere. Methods aiohttp's HTTP parser does not know get its
plain-text 400 before any handler runs, so only known methods are sent.
"""

from __future__ import annotations

import copy
import http.client
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cluster import Server

NAMES = ["fz-a", "fz-b", "default", "kube-system"]
NAMESPACES = ["default", "fz-ns", "kube-node-lease", "missing-ns"]
DEEP = "\x00deep\x00"  # placeholder replaced by deep nesting in the encoded body
PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]
CONTENT_TYPES = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json; charset=utf-16",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
    *PATCH_TYPES,
]
ACCEPTS = [
    "application/json",
    "application/json;as=Table;v=v1;g=meta.k8s.io",
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    "*/*",
    "",
]
STAMP = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class Kind:
    """Where a kind lives and a valid object of it to mutate."""

    prefix: str  # "/api/v1" or "/apis/GROUP/VERSION"
    plural: str
    namespaced: bool
    seed: dict[str, Any]
    subresources: tuple[str, ...] = ()


def _meta(name: str = "fz-a", **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": {"app": "fz", "tier": "x"}, "annotations": {"note": "seed"}, **extra}


CONTAINER = {
    "name": "c",
    "image": "busybox",
    "command": ["sleep", "3600"],
    "env": [{"name": "A", "value": "1"}],
    "ports": [{"containerPort": 80, "protocol": "TCP"}],
    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
}
POD_SPEC = {
    "containers": [CONTAINER],
    "nodeSelector": {"disk": "ssd"},
    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
}
KINDS = [
    Kind(
        "/api/v1",
        "pods",
        True,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta(),
            "spec": {**POD_SPEC, "nodeName": "fz-node"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        },
        ("status", "binding", "eviction"),
    ),
    Kind(
        "/api/v1",
        "nodes",
        False,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": _meta(),
            "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}], "unschedulable": False},
            "status": {
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": STAMP}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            },
        },
        ("status",),
    ),
    Kind(
        "/apis/apps/v1",
        "daemonsets",
        True,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": _meta(),
            "spec": {
                "selector": {"matchLabels": {"app": "fz"}},
                "template": {"metadata": {"labels": {"app": "fz"}}, "spec": POD_SPEC},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
                "minReadySeconds": 0,
                "revisionHistoryLimit": 10,
            },
        },
        ("status",),
    ),
    Kind(
        "/api/v1",
        "namespaces",
        False,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("fz-ns"), "spec": {"finalizers": ["kubernetes"]}},
        ("status",),
    ),
    Kind(
        "/apis/coordination.k8s.io/v1",
        "leases",
        True,
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": _meta(),
            "spec": {"holderIdentity": "fz", "leaseDurationSeconds": 40, "renewTime": "2024-01-01T00:00:00.000000Z"},
        },
    ),
    Kind(
        "/api/v1",
        "events",
        True,
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": _meta(),
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "fz-a"},
            "reason": "Started",
            "message": "started",
            "type": "Normal",
            "count": 1,
            "firstTimestamp": STAMP,
            "lastTimestamp": STAMP,
            "source": {"component": "fz"},
        },
    ),
    Kind(
        "/apis/apps/v1",
        "controllerrevisions",
        True,
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": _meta(),
            "data": {"spec": {"template": {"spec": POD_SPEC}}},
            "revision": 1,
        },
    ),
]


# ---- the one place that knows how to reach the server ----------------------------------------------


Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path and query, body, headers


@dataclass
class Reply:
    status: int
    body: bytes
    lines: list[bytes]  # watch events read before we hung up


class Api:
    """A keep-alive connection to the server as the admin."""

    def __init__(self, server: Server) -> None:
        url = urllib.parse.urlsplit(server.url)
        assert url.hostname and url.port
        self.host, self.port = url.hostname, url.port
        self.context = server.ssl_context()
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            if self.context is not None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=30, context=self.context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        """Send one request; a watch is read for a moment and then hung up on."""
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            if response.status == 200 and "watch=" in path and response.getheader("Content-Length") is None:
                return Reply(response.status, b"", self._some_lines(conn, response))
            data = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return Reply(response.status, data, [])

    def _some_lines(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse) -> list[bytes]:
        lines: list[bytes] = []
        assert conn.sock is not None
        conn.sock.settimeout(0.2)
        try:
            while len(lines) < 20:
                line = response.readline()
                if not line:
                    break
                lines.append(line)
        except TimeoutError:
            pass
        finally:
            self.close()
        return lines


# -----------------------------------------------------------------------------------------------------


def check(reply: Reply, method: str, what: str) -> None:
    """2xx, or a ``Status`` whose code is the HTTP status and below 500."""
    assert reply.status < 500, f"{what}: {reply.status} {reply.body[:500]!r}"
    for line in reply.lines:
        if line.strip():
            event = json.loads(line)
            assert event["type"] in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"), f"{what}: {line!r}"
            if event["type"] == "ERROR":
                assert event["object"]["kind"] == "Status" and event["object"]["code"] < 500, f"{what}: {line!r}"
    if 200 <= reply.status < 300 or method == "HEAD":
        return
    try:
        status = json.loads(reply.body)
    except ValueError:
        raise AssertionError(f"{what}: {reply.status} with a body that is not JSON: {reply.body[:300]!r}") from None
    assert isinstance(status, dict) and status.get("kind") == "Status", f"{what}: {status}"
    assert status.get("status") == "Failure" and status.get("code") == reply.status, f"{what}: {status}"


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Api]:
    client = Api(server)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fz-ns"}}
    assert client.request("POST", "/api/v1/namespaces", json.dumps(namespace).encode()).status == 201
    yield client
    client.close()


FUZZ = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# ---- strategies -------------------------------------------------------------------------------------

texts = st.text(max_size=20) | st.sampled_from(["", " ", "fz-a", "a" * 300, "\u00e9\u4e2d\U0001f600", "a/b", "..", "%"])
numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1])
scalars = st.none() | st.booleans() | numbers | st.floats(allow_nan=False, allow_infinity=False) | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _set(doc: Any, path: tuple[Any, ...], op: str, value: Any) -> Any:
    """``doc`` with the node at ``path`` replaced, removed, duplicated or extended."""
    if not path:
        return value if op == "replace" else doc
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "replace":
        parent[last] = value
    elif op == "remove":
        del parent[last]
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif op == "extend" and isinstance(parent[last], dict) and isinstance(value, str):
        parent[last][value] = copy.deepcopy(parent[last])
    elif op == "extend" and isinstance(parent[last], list):
        parent[last].append(value)
    return doc


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any], name: str) -> Any:
    """The seed named ``name``, with a few random mutations."""
    doc: Any = copy.deepcopy(seed)
    doc["metadata"]["name"] = name
    for _ in range(draw(st.integers(0, 4))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "remove", "duplicate", "extend"]))
        value = draw(json_values | st.just(DEEP) | st.sampled_from(["\U0001f600" * 50, "\u202e", 10**30]))
        if op == "remove" and not path:
            continue
        doc = _set(doc, path, op, value)
    return doc


def encode(doc: Any, depth: int) -> bytes:
    """JSON, with the deep-nesting placeholder expanded to ``depth`` levels."""
    text = json.dumps(doc, ensure_ascii=False)
    deep = '{"a":' * depth + "1" + "}" * depth
    return text.replace(json.dumps(DEEP), deep).encode("utf-8", "surrogatepass")


selectors = st.sampled_from(
    ["", "app=fz", "app!=fz", "app in (fz,x)", "!app", "app", "tier notin (x)", "a=b,c!=d", "app="]
    + ["=x", "a in (", "((", "a in ()", "x" * 70 + "=y", "a/b/c=d", "a=b=c"]
) | st.text(alphabet="ab=!,() inotexs-._/", max_size=20)
field_selectors = st.sampled_from(
    ["", "metadata.name=fz-a", "metadata.namespace!=default", "spec.nodeName=fz-node", "status.phase=Running"]
    + ["spec.bogus=x", "metadata.name", "a==b", "=", "metadata.name=fz-a,metadata.name!=x"]
) | st.text(alphabet="ab=!,.metadnsp", max_size=20)
resource_versions = st.sampled_from(["", "0", "1", "-1", "abc", "1.5", str(2**64), "999999999"]) | texts
query_params = st.fixed_dictionaries(
    {},
    optional={
        "labelSelector": selectors,
        "fieldSelector": field_selectors,
        "resourceVersion": resource_versions,
        "resourceVersionMatch": st.sampled_from(["NotOlderThan", "Exact", "x"]),
        "limit": st.sampled_from(["0", "1", "2", "-1", "abc", str(2**64), "500"]),
        "continue": st.sampled_from(["", "eyJ4IjoxfQ==", "WyJhIiwiYiJd", "!!", "W10=", "WzEsMiwzXQ=="]) | texts,
        "timeoutSeconds": st.sampled_from(["0", "1", "-1", "x", str(2**64), str(10**400)]),
        "dryRun": st.sampled_from(["All", "all", "", "x"]),
        "fieldManager": texts,
        "fieldValidation": st.sampled_from(["Strict", "Warn", "Ignore", "strict", ""]),
        "force": st.sampled_from(["true", "false", "x"]),
        "gracePeriodSeconds": st.sampled_from(["0", "30", "-1", "x", str(2**64)]),
        "propagationPolicy": st.sampled_from(["Foreground", "Background", "Orphan", "x"]),
        "allowWatchBookmarks": st.sampled_from(["true", "x"]),
        "sendInitialEvents": st.sampled_from(["true", "false", "x"]),
        "includeObject": st.sampled_from(["None", "Metadata", "Object", "x"]),
        "pretty": st.sampled_from(["true", "1"]),
    },
)


def url(path: str, params: dict[str, str]) -> str:
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def item_path(kind: Kind, namespace: str, name: str, subresource: str = "") -> str:
    base = f"{kind.prefix}/namespaces/{namespace}/{kind.plural}" if kind.namespaced else f"{kind.prefix}/{kind.plural}"
    path = base + "/" + urllib.parse.quote(name, safe="") if name else base
    return path + ("/" + subresource if subresource else "")


@st.composite
def object_requests(draw: st.DrawFn) -> list[Request]:
    """A verb on a kind with a mutated object, the way clients send them; for a verb on one object,
    often after creating a valid one of that name."""
    kind = draw(st.sampled_from(KINDS))
    namespace = draw(st.sampled_from(NAMESPACES))
    name = draw(st.sampled_from(NAMES) | texts)
    doc = draw(mutated(kind.seed, name if draw(st.integers(0, 4)) else draw(texts)))
    depth = draw(st.sampled_from([5, 99, 101, 300, 2000]))
    verb = draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET", "LIST", "WATCH", "SUB"]))
    params = draw(st.one_of(st.just({}), st.just({}), query_params))
    prelude: list[Request] = []
    if verb not in ("POST", "LIST", "WATCH") and draw(st.booleans()):
        valid = copy.deepcopy(kind.seed)
        valid["metadata"]["name"] = name
        prelude.append(("POST", item_path(kind, namespace, ""), encode(valid, 0), {"Content-Type": "application/json"}))
    headers = {"Content-Type": "application/json", "Accept": draw(st.sampled_from(ACCEPTS))}
    body: bytes | None = encode(doc, depth)
    if verb == "POST":
        path = item_path(kind, namespace, "")
    elif verb == "PUT":
        path = item_path(kind, namespace, name)
    elif verb == "PATCH":
        headers["Content-Type"] = draw(st.sampled_from(PATCH_TYPES))
        path = item_path(kind, namespace, name)
        if headers["Content-Type"] == "application/json-patch+json":
            ops = draw(st.lists(json_patch_ops(doc), max_size=4))
            body = encode(ops, depth)
        elif headers["Content-Type"] == "application/apply-patch+yaml" and draw(st.booleans()):
            body = _yaml(doc).encode("utf-8", "surrogatepass")
    elif verb == "DELETE":
        path = item_path(kind, namespace, name if draw(st.integers(0, 4)) else "")
        body = encode(draw(delete_options), depth) if draw(st.booleans()) else None
    elif verb == "SUB" and kind.subresources:
        sub = draw(st.sampled_from(kind.subresources))
        method = "POST" if sub in ("binding", "eviction") else draw(st.sampled_from(["GET", "PUT", "PATCH"]))
        if sub == "binding":
            body = encode({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": doc}, depth)
        elif sub == "eviction":
            body = encode({"apiVersion": "policy/v1", "kind": "Eviction", "deleteOptions": doc}, depth)
        if method == "PATCH":
            headers["Content-Type"] = draw(st.sampled_from(PATCH_TYPES))
        return [*prelude, (method, url(item_path(kind, namespace, name, sub), params), body, headers)]
    else:
        body = None
        listing = verb in ("LIST", "WATCH")
        path = item_path(kind, draw(st.sampled_from(NAMESPACES)), "" if listing else name)
        if verb == "WATCH":
            params["watch"] = draw(st.sampled_from(["true", "1"]))
        if listing and kind.namespaced and draw(st.booleans()):
            path = f"{kind.prefix}/{kind.plural}"
        verb = "GET"
    return [*prelude, (verb, url(path, params), body, headers)]


@st.composite
def json_patch_ops(draw: st.DrawFn, doc: Any) -> dict[str, Any]:
    paths = ["/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) for path in _paths(doc)]
    op: dict[str, Any] = {
        "op": draw(st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"])),
        "path": draw(st.sampled_from(paths) | texts | st.sampled_from(["/metadata/labels/-", "/spec/x/0", "/-"])),
    }
    if draw(st.booleans()):
        op["value"] = draw(json_values)
    if op["op"] in ("move", "copy") or draw(st.integers(0, 5)) == 0:
        op["from"] = draw(st.sampled_from(paths) | texts)
    return op


delete_options = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.sampled_from(["v1", "meta/v1", "x"]),
        "kind": st.sampled_from(["DeleteOptions", "Pod", "x"]),
        "gracePeriodSeconds": json_values,
        "propagationPolicy": st.sampled_from(["Foreground", "Background", "Orphan"]) | json_values,
        "preconditions": st.fixed_dictionaries({}, optional={"uid": json_values, "resourceVersion": json_values}),
        "dryRun": json_values,
        "orphanDependents": json_values,
    },
)


def _yaml(doc: Any) -> str:
    import yaml

    return yaml.safe_dump(doc, allow_unicode=True)


# ---- properties -------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=600)
@given(requests=object_requests())
def test_mutated_objects_with_every_verb(api: Api, requests: list[Request]) -> None:
    for method, path, body, headers in requests:
        check(api.request(method, path, body, headers), method, f"{method} {path} {(body or b'')[:300]!r}")


segments = st.sampled_from(
    ["api", "apis", "v1", "apps", "coordination.k8s.io", "namespaces", "default", "pods", "nodes", "daemonsets"]
    + ["leases", "events", "controllerrevisions", "status", "binding", "eviction", "fz-a", "openapi", "v3"]
    + ["version", "healthz", "cacerts", "v1-miniplane", "join", "metrics", "..", ".", "", "%00", "%2F", "%ZZ"]
) | st.text(max_size=12).map(lambda s: urllib.parse.quote(s, safe=""))
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "LINK"])


@FUZZ
@given(
    method=methods,
    parts=st.lists(segments, min_size=0, max_size=7),
    params=query_params,
    body=st.none() | st.binary(max_size=64) | st.just(b"{}"),
    content_type=st.sampled_from(CONTENT_TYPES),
    accept=st.sampled_from(ACCEPTS),
)
def test_random_paths_and_methods(
    api: Api, method: str, parts: list[str], params: dict[str, str], body: bytes | None, content_type: str, accept: str
) -> None:
    path = url("/" + "/".join(parts), params)
    check(api.request(method, path, body, {"Content-Type": content_type, "Accept": accept}), method, path)


def _malformed(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        st.integers(1, len(seed) - 1).map(lambda n: seed[:n]),  # truncated
        st.sampled_from(
            [
                b'{"metadata":{"name":"\xff\xfe"}}',  # invalid UTF-8 in a string
                b"\xef\xbb\xbf" + seed,  # a byte-order mark
                seed.replace(b'"', b"'"),
                b"NaN",
                b'{"a":NaN,"b":Infinity}',
                b'{"a":1e999}',
                b'{"metadata":{"name":"x"},"a":' + b"9" * 5000 + b"}",
                b'{"a":1,"a":2,"metadata":{"name":"x","name":"y"}}',
                b"---\na: 1\n---\nb: 2\n",
                b"a: !!python/object/apply:os.system ['true']\n",
                b"a: &x [1]\nb: *x\n",
                b"!!binary AAAA",
                b"{a: [1, 2}",
                b"\t- x\n  y: z",
                b"k8s\x00",
                b"k8s\x00\x0a\xff\xff\xff\xff\x0f",
                b"k8s\x00\x0a\x0a\x0a\x02v1\x12\x04Pod\x12\x05\x0a\x03\x0a\x01x",
                b"\x00" * 64,
                b"",
                b'{"a":' * 150 + b"1" + b"}" * 150,  # deeper than the limit
                b"[" * 5000 + b"]" * 5000,  # deeper than the JSON parser goes
                b"- " * 400 + b"x",  # YAML sequences nested 400 deep
                b'{"metadata":{"name":"x"},"a":"' + b"x" * (3 * 1024 * 1024) + b'"}',  # over the body limit
            ]
        ),
    )


@FUZZ
@given(data=st.data())
def test_raw_malformed_bodies(api: Api, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    seed = json.dumps(kind.seed).encode()
    body = data.draw(_malformed(seed))
    method = data.draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]))
    name = "" if method == "POST" else data.draw(st.sampled_from(NAMES))
    sub = data.draw(st.sampled_from(["", *kind.subresources])) if name else ""
    content_type = data.draw(st.sampled_from(CONTENT_TYPES) | st.text(max_size=30).map(_header_safe))
    path = item_path(kind, data.draw(st.sampled_from(NAMESPACES)), name, sub)
    check(api.request(method, path, body, {"Content-Type": content_type}), method, f"{method} {path} {body[:80]!r}")


def _header_safe(text: str) -> str:
    return "".join(c for c in text if 32 <= ord(c) < 127)


def test_the_server_survived_the_fuzzing(api: Api, server: Server) -> None:
    assert server.process.poll() is None
    assert api.request("GET", "/healthz").status == 200
    listing = api.request("GET", "/api/v1/namespaces/default")
    assert listing.status == 200 and json.loads(listing.body)["metadata"]["name"] == "default"
    log = server.log()
    for trace in ("internal error serving", "Error handling request", "Traceback"):
        assert trace not in log, log[log.index(trace) - 200 :][:3000]
