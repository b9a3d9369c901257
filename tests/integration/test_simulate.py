"""``miniplane simulate`` end to end at 50 nodes: converge, roll out, restart the server with no churn.

A real server, the simulator as a subprocess (its own process, per-node tokens over TLS), the real
kubectl; ``/metrics`` is read as the admin and refused to others.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from miniplane.metrics import parse
from tests.cluster import REPO, Server, start_server, wait_for

NODES = 50
DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: fleet, namespace: default}
spec:
  selector: {matchLabels: {app: fleet}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 10}}
  template:
    metadata: {labels: {app: fleet}}
    spec:
      terminationGracePeriodSeconds: 5
      containers: [{name: main, image: "busybox:1"}]
"""


class Simulator:
    def __init__(self, server: Server, log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "miniplane.cli",
                    "simulate",
                    "--server",
                    server.url,
                    "--token-file",
                    str(server.data_dir / "node-token"),
                    "--nodes",
                    str(NODES),
                    "--pod-start-delay",
                    "200ms",
                    "--heartbeat-interval",
                    "1s",
                    "--labels",
                    "fleet=sim",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Server, Simulator]]:
    server = start_server(tmp_path / "server")
    simulator = Simulator(server, tmp_path / "simulate.log")
    try:
        yield server, simulator
    finally:
        simulator.process.terminate()
        simulator.process.wait(10)
        server.stop()


def get(server: Server, url: str) -> Any:
    with server.urlopen(url) as reply:
        return json.loads(reply.read())


def ds_status(server: Server) -> dict[str, Any]:
    ds = get(server, "/apis/apps/v1/namespaces/default/daemonsets/fleet")
    status: dict[str, Any] = ds.get("status") or {}
    return status if status.get("observedGeneration") == ds["metadata"]["generation"] else {}


def pod_uids(server: Server) -> dict[str, str]:
    pods = get(server, "/api/v1/namespaces/default/pods?labelSelector=app%3Dfleet")["items"]
    assert not [p for p in pods if p["metadata"].get("deletionTimestamp")]
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods}


def running_ready(server: Server) -> int:
    pods = get(server, "/api/v1/namespaces/default/pods?labelSelector=app%3Dfleet")["items"]
    return sum(
        p["status"].get("phase") == "Running"
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        for p in pods
    )


def ready_nodes(server: Server) -> int:
    nodes = get(server, "/api/v1/nodes?labelSelector=fleet%3Dsim")["items"]
    return sum(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        and not (n.get("spec") or {}).get("taints")
        for n in nodes
    )


def renewed_since(server: Server, moment: datetime) -> int:
    leases = get(server, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")["items"]
    return sum(datetime.fromisoformat(lease["spec"]["renewTime"]) > moment for lease in leases)


def scrape(server: Server, token: str = "") -> dict[str, dict[tuple[str, ...], float]]:
    if token:
        request = urllib.request.Request(server.url + "/metrics", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, context=server.ssl_context(admin=False)) as reply:
            return parse(reply.read().decode())
    with server.urlopen("/metrics") as reply:
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(reply.read().decode())


def node_token(server: Server, name: str) -> str:
    join_token = (server.data_dir / "node-token").read_text().strip()
    request = urllib.request.Request(
        server.url + "/v1-miniplane/join",
        data=json.dumps({"nodeName": name}).encode(),
        headers={"Authorization": f"Bearer {join_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=server.ssl_context(admin=False)) as reply:
        return str(json.loads(reply.read())["token"])


def test_fleet_converges_rolls_out_and_survives_a_server_restart(cluster: tuple[Server, Simulator]) -> None:
    server, simulator = cluster
    wait_for(lambda: ready_nodes(server) == NODES, 30, what=f"{NODES} Ready untainted nodes")
    wait_for(lambda: "all 50 nodes registered" in simulator.log(), 10, what="the registration log line")

    server.kubectl("apply", "-f", "-", input=DAEMONSET, check=True)
    wait_for(lambda: ds_status(server).get("numberReady") == NODES, 30, what="numberReady 50")
    assert running_ready(server) == NODES
    uids = pod_uids(server)
    nodes = {p["spec"]["nodeName"] for p in get(server, "/api/v1/namespaces/default/pods")["items"]}
    assert len(uids) == len(nodes) == NODES

    server.kubectl("set", "image", "ds/fleet", "main=busybox:2", check=True)

    def rolled_out() -> bool:
        status = ds_status(server)
        return status.get("updatedNumberScheduled") == NODES and status.get("numberAvailable") == NODES

    wait_for(rolled_out, 40, what="the rollout to complete")
    images = {p["spec"]["containers"][0]["image"] for p in get(server, "/api/v1/namespaces/default/pods")["items"]}
    assert images == {"busybox:2"}
    before = pod_uids(server)
    assert len(before) == NODES and not set(before.values()) & set(uids.values())  # every pod was replaced

    metrics = scrape(server)
    assert metrics["apiserver_storage_objects"][("resource=nodes",)] == NODES
    assert metrics["miniplane_node_lease_renewals_total"][()] > 0
    assert metrics["apiserver_longrunning_requests"][("resource=pods", "verb=WATCH")] >= 1
    assert metrics["workqueue_work_duration_seconds_count"][("name=daemonset",)] > 0
    assert metrics["apiserver_request_total"][("code=200", "resource=pods", "subresource=status", "verb=patch")] >= 100
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(server, node_token(server, "sim-00000"))
    assert refused.value.code == 403

    port = server.url.rsplit(":", 1)[1]
    server.process.kill()
    server.process.wait()
    restarted_at = datetime.now(UTC)
    cluster_server = start_server(server.data_dir, "--port", port)
    assert cluster_server.url == server.url
    server.process = cluster_server.process  # the fixture stops the new process
    wait_for(lambda: renewed_since(server, restarted_at) == NODES, 30, what="every node renewing again")
    wait_for(lambda: ready_nodes(server) == NODES, 10, what="every node Ready")
    time.sleep(3)  # give a churning controller or simulator the time to show it
    assert pod_uids(server) == before
    assert ds_status(server).get("numberReady") == NODES
    assert simulator.process.poll() is None, simulator.log()
