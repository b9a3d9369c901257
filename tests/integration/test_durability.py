"""Durability of the real server: kill -9 loses no acknowledged write; a torn log tail is cut;
a second server on the same data dir refuses to start."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from tests.cluster import REPO, Server, start_server

LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"  # objects no controller touches


def _post(server: Server, path: str, body: dict) -> dict:
    req = urllib.request.Request(
        server.url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with server.urlopen(req, timeout=10) as resp:
        result: dict = json.loads(resp.read())
        return result


def _lease(name: str) -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "labels": {"writer": name.split("-")[0]}},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40},
    }


def _list(server: Server) -> dict[str, dict]:
    with server.urlopen(LEASES, timeout=10) as resp:
        return {p["metadata"]["name"]: p for p in json.loads(resp.read())["items"]}


def test_kill_9_mid_stream_loses_no_acknowledged_write(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    acknowledged: dict[str, dict] = {}
    lock = threading.Lock()

    def writer(w: int) -> None:
        for i in range(10_000):
            try:
                created = _post(server, LEASES, _lease(f"w{w}-{i}"))
            except (OSError, urllib.error.URLError):
                return  # the server died mid-stream
            with lock:
                acknowledged[created["metadata"]["name"]] = created

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(12)]
    for t in threads:
        t.start()
    while len(acknowledged) < 600:
        threading.Event().wait(0.05)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    for t in threads:
        t.join()
    restarted = start_server(server.data_dir)
    try:
        stored = _list(restarted)
        missing = [name for name in acknowledged if name not in stored]
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
        for name, obj in acknowledged.items():
            assert stored[name]["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
            assert stored[name]["metadata"]["uid"] == obj["metadata"]["uid"]
            assert stored[name]["spec"] == obj["spec"]
    finally:
        restarted.stop()


def test_torn_log_tail_is_truncated_and_the_server_starts(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    for i in range(20):
        _post(server, LEASES, _lease(f"t-{i}"))
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    segment = max((server.data_dir / "store" / "wal").glob("*.wal"))
    data = segment.read_bytes().rstrip(b"\0")
    segment.write_bytes(data + b"\x55\x00\x00\x00garbage-half-record")  # a record cut mid-write
    restarted = start_server(server.data_dir)
    try:
        assert len([n for n in _list(restarted) if n.startswith("t-")]) == 20
        assert "dropped" in restarted.log() or "truncat" in restarted.log().lower()
        _post(restarted, LEASES, _lease("after-1"))  # and it keeps accepting writes
    finally:
        restarted.stop()


def test_second_server_on_the_same_data_dir_refuses(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        second = subprocess.run(
            [sys.executable, "-m", "miniplane.cli", "server", "--port", "0", "--data-dir", str(server.data_dir)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
        )
        assert second.returncode == 1
        assert "in use" in second.stderr
        assert server.process.poll() is None
    finally:
        server.stop()
