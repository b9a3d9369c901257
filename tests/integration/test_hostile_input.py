"""Bad input gets a Status error with a 4xx code, and the server keeps serving."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cluster import Server, start_server

DS_PATH = "/apis/apps/v1/namespaces/default/daemonsets"


def _request(
    server: Server, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, dict]:
    req = urllib.request.Request(server.url + path, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with server.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


CASES = [
    ("malformed JSON", "POST", DS_PATH, b'{"kind": "DaemonSet", ', "application/json", 400, "BadRequest"),
    ("JSON array body", "POST", DS_PATH, b"[1,2]", "application/json", 400, "BadRequest"),
    (
        "wrong kind",
        "POST",
        DS_PATH,
        b'{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"x"}}',
        "application/json",
        400,
        "BadRequest",
    ),
    (
        "wrong apiVersion",
        "POST",
        DS_PATH,
        b'{"apiVersion":"apps/v2","kind":"DaemonSet","metadata":{"name":"x"}}',
        "application/json",
        400,
        "BadRequest",
    ),
    (
        "body over 3 MiB",
        "POST",
        DS_PATH,
        b'{"a":"' + b"x" * (3 * 1024 * 1024 + 10) + b'"}',
        "application/json",
        413,
        "RequestEntityTooLarge",
    ),
    ("deep nesting", "POST", DS_PATH, _nested(5000), "application/json", 400, "BadRequest"),
    (
        "malformed YAML apply",
        "PATCH",
        DS_PATH + "/y?fieldManager=t",
        b"a: [1, 2\n  b: {",
        "application/apply-patch+yaml",
        400,
        "BadRequest",
    ),
    (
        "YAML alias bomb",
        "PATCH",
        DS_PATH + "/y?fieldManager=t",
        b"a: &a [1]\nb: [*a, *a]\n",
        "application/apply-patch+yaml",
        400,
        "BadRequest",
    ),
    (
        "unknown resource",
        "GET",
        "/apis/apps/v1/namespaces/default/widgets",
        None,
        "application/json",
        404,
        "NotFound",
    ),
    ("unknown group", "GET", "/apis/nope.io/v1/things", None, "application/json", 404, "NotFound"),
    ("unknown verb", "PUT", DS_PATH, b"{}", "application/json", 405, "MethodNotAllowed"),
    ("unsupported patch type", "PATCH", DS_PATH + "/x", b"{}", "text/plain", 415, "UnsupportedMediaType"),
    (
        "bad label selector",
        "GET",
        "/api/v1/pods?labelSelector=a%20in%20(",
        None,
        "application/json",
        400,
        "BadRequest",
    ),
    (
        "unsupported field label",
        "GET",
        "/api/v1/pods?fieldSelector=spec.bogus%3Dx",
        None,
        "application/json",
        400,
        "BadRequest",
    ),
    ("bad limit", "GET", "/api/v1/pods?limit=abc", None, "application/json", 400, "BadRequest"),
    (
        "protobuf of another kind",
        "POST",
        "/api/v1/namespaces",
        b"k8s\x00\x0a\x0a\x0a\x02v1\x12\x04Node",
        "application/vnd.kubernetes.protobuf",
        415,
        "UnsupportedMediaType",
    ),
    (
        "stale resourceVersion",
        "PUT",
        "/api/v1/namespaces/default",
        b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","resourceVersion":"2"}}',
        "application/json",
        409,
        "Conflict",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_request_gets_status(
    server: Server, method: str, path: str, body: bytes | None, content_type: str, code: int, reason: str
) -> None:
    status, reply = _request(server, method, path, body, content_type)
    assert status == code, reply
    assert reply["kind"] == "Status" and reply["status"] == "Failure"
    assert reply["reason"] == reason and reply["code"] == code
    healthy = server.urlopen("/api/v1/namespaces/default", timeout=5)
    assert healthy.status == 200


def test_watch_from_too_old_rv_gets_in_stream_410(tmp_path: Path) -> None:
    server = start_server(tmp_path / "srv", "--watch-history", "3")
    try:
        for i in range(6):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{i}"}}
            assert _request(server, "POST", "/api/v1/namespaces", json.dumps(body).encode())[0] == 201
        url = server.url + "/api/v1/namespaces?watch=true&resourceVersion=1&timeoutSeconds=2"
        with server.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
            events = [json.loads(line) for line in resp.read().splitlines() if line]
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
        assert events[0]["object"]["message"].startswith("too old resource version: 1 (")
        _, listing = _request(server, "GET", "/api/v1/namespaces")
        assert len(listing["items"]) == 10
    finally:
        server.stop()


# Found by tests/fuzz/test_api_fuzz.py: each of these was a 500 before.
LEASE_APPLY = "/apis/coordination.k8s.io/v1/namespaces/default/leases/fz?fieldManager=t"
_LEASE_YAML = b"apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: fz}\n"
FUZZ_CASES = [
    ("watch timeout beyond a float", "GET", "/api/v1/pods?watch=1&timeoutSeconds=" + "9" * 400, None, 400),
    ("limit beyond 64 bits", "GET", "/api/v1/pods?limit=" + "9" * 30, None, 400),
    (
        "grace period beyond 64 bits",
        "DELETE",
        "/api/v1/namespaces/default/pods/x?gracePeriodSeconds=" + "9" * 30,
        None,
        400,
    ),
    ("DeleteOptions.dryRun not a list", "DELETE", "/api/v1/namespaces/default/pods/x", b'{"dryRun": 1}', 400),
    ("no group in the path", "PUT", "/apis///", b"{}", 404),
    (
        "YAML integer beyond a float",
        "PATCH",
        LEASE_APPLY,
        _LEASE_YAML + b"spec: {leaseDurationSeconds: 1" + b"0" * 400 + b"}",
        400,
    ),
    (
        "YAML integer of 5000 digits",
        "PATCH",
        LEASE_APPLY,
        _LEASE_YAML + b"spec: {leaseDurationSeconds: " + b"9" * 5000 + b"}",
        400,
    ),
    ("YAML !!binary", "PATCH", LEASE_APPLY, _LEASE_YAML + b"spec: {holderIdentity: !!binary aGk=}", 400),
    ("YAML !!set", "PATCH", LEASE_APPLY, _LEASE_YAML + b"spec: {holderIdentity: !!set {a}}", 400),
    (
        "apply list item without its merge key",
        "PATCH",
        "/api/v1/nodes/fz?fieldManager=t",
        b'{"apiVersion":"v1","kind":"Node","metadata":{"name":"fz"},"status":{"addresses":[{"address":"1.2.3.4"}]}}',
        400,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "code"), [c[1:] for c in FUZZ_CASES], ids=[c[0] for c in FUZZ_CASES]
)
def test_fuzz_found_input_gets_status(server: Server, method: str, path: str, body: bytes | None, code: int) -> None:
    content_type = "application/apply-patch+yaml" if "fieldManager=t" in path else "application/json"
    status, reply = _request(server, method, path, body, content_type)
    assert status == code, reply
    assert reply["kind"] == "Status" and reply["status"] == "Failure" and reply["code"] == code
    assert server.urlopen("/api/v1/namespaces/default", timeout=5).status == 200


def test_yaml_loads_as_the_json_it_stands_for(server: Server) -> None:
    body = _LEASE_YAML.replace(
        b"{name: fz}", b"{name: fz-yaml, labels: {1: a, true: b}, annotations: {at: 2001-12-14}}"
    )
    status, lease = _request(
        server, "PATCH", LEASE_APPLY.replace("/fz?", "/fz-yaml?"), body, "application/apply-patch+yaml"
    )
    assert status == 201, lease
    assert lease["metadata"]["labels"] == {"1": "a", "true": "b"}
    assert lease["metadata"]["annotations"] == {"at": "2001-12-14"}


def test_one_object_as_a_table_with_a_bad_include_object_gets_400(server: Server) -> None:
    req = urllib.request.Request(
        server.url + "/api/v1/namespaces/default?includeObject=x",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        server.urlopen(req, timeout=10)
    reply = json.loads(err.value.read())
    assert err.value.code == 400 and reply["kind"] == "Status" and reply["reason"] == "BadRequest"
