"""Limits answer with a Status error and the server keeps serving: body size (413), nesting depth (400),
watches per client (429 + Retry-After), and watchers that fall behind (410 in-stream) or stop reading
(cut off, with the server's memory bounded)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from miniplane.wire.join import join
from tests.cluster import Server, start_server, wait_for

PER_CLIENT = 4
QUEUE = 50
WRITE_TIMEOUT = 2.0
HISTORY = 100
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
QUIET_WATCH = "/api/v1/namespaces?watch=true&labelSelector=limits%3Dquiet"  # never sees an event
BIG = "x" * 100_000  # an annotation that makes each watch event ~100 KB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("limits"),
        *("--max-watches-per-client", str(PER_CLIENT), "--watch-queue-size", str(QUEUE)),
        *("--watch-write-timeout", f"{WRITE_TIMEOUT}s", "--watch-history", str(HISTORY)),
    )
    yield srv
    srv.stop()


# ---- the one place that knows how to reach the server ----------------------------------------------


def _call(
    server: Server, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, dict, Message]:
    """One request as the admin: status, JSON body and headers, errors included."""
    req = urllib.request.Request(server.url + path, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with server.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}"), err.headers


def _raw_watch(server: Server, path: str) -> socket.socket:
    """A watch request on a bare (TLS) socket as the admin; nothing is read from it."""
    url = urllib.parse.urlsplit(server.url)
    assert url.hostname and url.port
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    context = server.ssl_context()
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname=url.hostname)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    return sock


def _status_line(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "connection closed before the status line"
        head += chunk
    return int(head.split()[1])


# -----------------------------------------------------------------------------------------------------


def _assert_status(code: int, body: dict, expected: int, reason: str) -> None:
    assert code == expected, body
    assert body["kind"] == "Status" and body["status"] == "Failure", body
    assert body["code"] == expected and body["reason"] == reason, body


def _assert_serving(server: Server) -> None:
    code, body, _ = _call(server, "GET", "/api/v1/namespaces/default")
    assert code == 200 and body["metadata"]["name"] == "default"


def _lease(name: str, annotation: str = "") -> bytes:
    meta: dict = {"name": name, "annotations": {"a": annotation}} if annotation else {"name": name}
    return json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}).encode()


def _churn(server: Server, name: str, count: int, stop: threading.Event | None = None) -> None:
    """``count`` changes of one Lease (fewer once ``stop`` is set), each a ~100 KB watch event."""
    assert _call(server, "POST", LEASES, _lease(name))[0] == 201
    for i in range(count):
        if stop is not None and stop.is_set():
            return
        patch = json.dumps({"metadata": {"annotations": {"a": f"{i}{BIG}"}}}).encode()
        code, body, _ = _call(server, "PATCH", f"{LEASES}/{name}", patch, "application/merge-patch+json")
        assert code == 200, body


def _rss_mib(server: Server) -> float:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_body_too_large_gets_413(server: Server) -> None:
    body = _lease("huge", "y" * (3 * 1024 * 1024))
    code, reply, _ = _call(server, "POST", LEASES, body)
    _assert_status(code, reply, 413, "RequestEntityTooLarge")
    _assert_serving(server)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"metadata":' * 150 + b"{}" + b"}" * 150, "application/merge-patch+json"),  # parses, over the limit
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/merge-patch+json"),  # over the parser's limit
        (b"a:\n" + b"".join(b" " * i + b"- a:\n" for i in range(1, 1500)), "application/apply-patch+yaml"),
        (b"[" * 5000 + b"]" * 5000, "application/apply-patch+yaml"),
    ],
    ids=["json-150", "json-5000", "yaml-block-1500", "yaml-flow-5000"],
)
def test_nesting_too_deep_gets_400(server: Server, body: bytes, content_type: str) -> None:
    _call(server, "POST", LEASES, _lease("deep"))
    code, reply, _ = _call(server, "PATCH", f"{LEASES}/deep?fieldManager=t", body, content_type)
    _assert_status(code, reply, 400, "BadRequest")
    _assert_serving(server)


async def _quiet_watch_as_node(server: Server) -> list[tuple[str, dict]]:
    """The quiet watch, for a second, as node ``n1`` (joined with the node token)."""
    node = await join(server.url, (server.data_dir / "node-token").read_text().strip(), "n1", server.data_dir)
    params = {"labelSelector": "limits=quiet"}
    async with node.client() as api:
        return [event async for event in api.watch("/api/v1/namespaces", "0", params, server_timeout=1)]


def test_too_many_watches_gets_429_with_retry_after(server: Server) -> None:
    path = QUIET_WATCH
    open_watches = [server.urlopen(path) for _ in range(PER_CLIENT)]
    try:
        code, reply, headers = _call(server, "GET", path)
        _assert_status(code, reply, 429, "TooManyRequests")
        assert headers["Retry-After"] == "1" and reply["details"]["retryAfterSeconds"] == 1
        _assert_serving(server)  # other requests of the same client still pass
        assert asyncio.run(_quiet_watch_as_node(server)) == []  # another user has watches of its own
    finally:
        for resp in open_watches:
            resp.close()
    wait_for(lambda: _call(server, "GET", path + "&timeoutSeconds=1")[0] == 200, 10, what="a freed watch slot")


def test_watches_of_a_vanished_client_do_not_count(server: Server) -> None:
    path = QUIET_WATCH
    gone = [_raw_watch(server, path) for _ in range(PER_CLIENT)]
    assert [_status_line(sock) for sock in gone] == [200] * PER_CLIENT
    for sock in gone:
        sock.close()  # the server notices only when the watch next writes, and no event comes

    def admitted() -> socket.socket | None:
        sock = _raw_watch(server, path)
        if _status_line(sock) == 200:
            return sock
        sock.close()
        return None

    replacements = [wait_for(admitted, 10, what="a watch in place of a vanished one") for _ in range(PER_CLIENT)]
    try:
        code, reply, _ = _call(server, "GET", path)
        _assert_status(code, reply, 429, "TooManyRequests")
    finally:
        for sock in replacements:
            sock.close()


def test_stuck_watcher_is_cut_off_and_memory_stays_bounded(server: Server) -> None:
    _churn(server, "warm-up", HISTORY)  # the watch history full of ~100 KB versions
    before = _rss_mib(server)
    stuck = _raw_watch(server, f"{LEASES}?watch=true")  # never read while the events pile up
    _churn(server, "stuck", 400)  # ~40 MB of events for the stuck watch
    grown = _rss_mib(server) - before
    print(f"RSS {before:.0f} MiB, grew {grown:.1f} MiB")
    assert grown < 20, f"RSS grew {grown:.0f} MiB while a watcher did not read"
    _assert_serving(server)
    started = time.monotonic()
    received, tail = 0, b""
    try:  # the server either cut the stream off (FIN or reset), or ended it after an in-stream 410
        while not (b'"code":410' in tail and tail.endswith(b"\r\n0\r\n\r\n")):
            chunk = stuck.recv(1 << 20)
            if not chunk:
                break
            received += len(chunk)
            tail = (tail + chunk)[-4096:]
    except ConnectionError:
        pass
    stuck.close()
    assert received < 20_000_000  # what the socket buffers held, not the backlog
    assert time.monotonic() - started < 30
    _assert_serving(server)


def test_slow_watcher_gets_410_and_the_python_client_relists(server: Server) -> None:
    with client.ApiClient(config.new_client_from_config(str(server.kubeconfig)).configuration) as api:
        leases = client.CoordinationV1Api(api)
        rv = leases.list_namespaced_lease("default").metadata.resource_version
        stop = threading.Event()
        failures: list[BaseException] = []

        def write() -> None:
            try:
                _churn(server, "slow", 3000, stop)
            except BaseException as exc:
                failures.append(exc)
                raise

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        seen = 0
        with pytest.raises(ApiException) as err:
            # with a timeout the client raises the first 410 instead of retrying once from its last event
            for _ in watch.Watch().stream(
                leases.list_namespaced_lease, "default", resource_version=rv, timeout_seconds=120
            ):
                seen += 1
                time.sleep(0.05)  # 20 events/s while the writer makes about a hundred
        stop.set()
        writer.join(60)
        assert not failures
        assert err.value.status == 410 and "fell behind" in str(err.value), err.value
        assert seen >= QUEUE
        listing = leases.list_namespaced_lease("default")  # what an informer does next: list, watch again
        assert "slow" in [lease.metadata.name for lease in listing.items]
        leases.delete_namespaced_lease("slow", "default")
        events = watch.Watch().stream(
            leases.list_namespaced_lease,
            "default",
            resource_version=listing.metadata.resource_version,
            timeout_seconds=5,
        )
        assert next(events)["type"] == "DELETED"
    _assert_serving(server)
