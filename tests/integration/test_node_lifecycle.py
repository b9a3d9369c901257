"""Node lifecycle, taint-based eviction and pod GC against a real server with short grace periods (§5.1–5.5).

The test plays the node agent: it posts node status, renews the Lease and marks pods ready.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.cluster import Server, start_server

GRACE = 2.0
STARTUP_GRACE = 3.0
QUARANTINE = 1.5
K = "node.kubernetes.io/"
DAEMON_TOLERATIONS = [
    {"key": K + "not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": K + "unreachable", "operator": "Exists", "effect": "NoExecute"},
]
DEFAULT_TOLERATIONS = [{**t, "tolerationSeconds": 300} for t in DAEMON_TOLERATIONS]
T = TypeVar("T")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        Path(tmp_path_factory.mktemp("lifecycle")),
        "--node-monitor-grace-period",
        f"{GRACE}s",
        "--node-startup-grace-period",
        f"{STARTUP_GRACE}s",
        "--pod-gc-quarantine",
        f"{int(QUARANTINE * 1000)}ms",
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def core(cluster: Server) -> Iterator[client.CoreV1Api]:
    with config.new_client_from_config(str(cluster.kubeconfig)) as api:
        yield client.CoreV1Api(api)


@pytest.fixture(scope="module")
def leases(cluster: Server) -> Iterator[client.CoordinationV1Api]:
    with config.new_client_from_config(str(cluster.kubeconfig)) as api:
        yield client.CoordinationV1Api(api)


# ---- playing the agent ---------------------------------------------------------------------------


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ready_condition(status: str = "True") -> dict[str, Any]:
    now = stamp()
    return {"type": "Ready", "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now}


def add_node(core: client.CoreV1Api, name: str, ready: str = "True") -> list[str]:
    """Register a node that reports ``ready``; returns the taints it was created with."""
    body = {"metadata": {"name": name}, "status": {"conditions": [ready_condition(ready)]}}
    return short(core.create_node(body).spec.taints)


def post_ready(core: client.CoreV1Api, name: str) -> None:
    core.patch_node_status(name, {"status": {"conditions": [ready_condition()]}})


def add_pod(core: client.CoreV1Api, name: str, node: str, tolerations: list[dict[str, Any]]) -> None:
    spec = {
        "nodeName": node,
        "terminationGracePeriodSeconds": 0,
        "tolerations": tolerations,
        "containers": [{"name": "c", "image": "busybox"}],
    }
    core.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": spec})
    ready = [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]
    core.patch_namespaced_pod_status(name, "default", {"status": {"phase": "Running", "conditions": ready}})


class LeaseRenewer:
    """Renews a node's Lease every ``GRACE / 4`` seconds in a thread until stopped."""

    def __init__(self, api: client.CoordinationV1Api, node: str) -> None:
        self.api, self.node = api, node
        self.last = time.monotonic()
        spec = {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": stamp()}
        api.create_namespaced_lease("kube-node-lease", {"metadata": {"name": node}, "spec": spec})
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._renew, daemon=True)
        self.thread.start()

    def _renew(self) -> None:
        while not self.stopped.wait(GRACE / 4):
            self.last = time.monotonic()
            self.api.patch_namespaced_lease(self.node, "kube-node-lease", {"spec": {"renewTime": stamp()}})

    def stop(self) -> float:
        """Stop renewing; returns when the last renewal was stamped (``time.monotonic``)."""
        self.stopped.set()
        self.thread.join()
        return self.last


# ---- reading -------------------------------------------------------------------------------------------


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def node_json(cluster: Server, name: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", "node", name, "-o", "json", check=True).stdout)


def taints(core: client.CoreV1Api, name: str) -> list[str]:
    return short(core.read_node(name).spec.taints)


def short(taints: list[client.V1Taint] | None) -> list[str]:
    return [f"{t.key.removeprefix(K)}:{t.effect}" for t in taints or []]


def node_ready(core: client.CoreV1Api, name: str) -> str | None:
    status = core.read_node(name).status
    conditions = (status.conditions if status else None) or []
    return next((c.status for c in conditions if c.type == "Ready"), None)


def pod_or_none(core: client.CoreV1Api, name: str) -> client.V1Pod | None:
    try:
        return core.read_namespaced_pod(name, "default")
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def pod_ready(core: client.CoreV1Api, name: str) -> str | None:
    pod = pod_or_none(core, name)
    conditions = (pod.status.conditions or []) if pod else []
    return next((c.status for c in conditions if c.type == "Ready"), None)


UNREACHABLE = ["unreachable:NoSchedule", "unreachable:NoExecute"]


# ---- scenarios -------------------------------------------------------------------------------------------


def test_silent_node_goes_unknown_then_recovers(
    cluster: Server, core: client.CoreV1Api, leases: client.CoordinationV1Api
) -> None:
    assert add_node(core, "lc-a") == ["not-ready:NoSchedule"]  # TaintNodesByCondition admission
    renewer = LeaseRenewer(leases, "lc-a")
    wait_for(lambda: taints(core, "lc-a") == [], 2, "the admission taint to go once the node is Ready")
    add_pod(core, "lc-daemon", "lc-a", DAEMON_TOLERATIONS)
    add_pod(core, "lc-web", "lc-a", DEFAULT_TOLERATIONS)

    time.sleep(GRACE * 1.5)  # the status heartbeat is stale now; the Lease keeps the node healthy
    assert node_ready(core, "lc-a") == "True" and taints(core, "lc-a") == []

    last_renewal = renewer.stop()
    wait_for(lambda: node_ready(core, "lc-a") == "Unknown", GRACE + 1, "Ready=Unknown")
    elapsed = time.monotonic() - last_renewal
    assert GRACE - 0.1 <= elapsed <= GRACE + 1, elapsed

    node = node_json(cluster, "lc-a")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert {c["type"] for c in node["status"]["conditions"] if c["status"] == "Unknown"} == {
        "Ready",
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
    }
    wait_for(lambda: taints(core, "lc-a") == UNREACHABLE, 1, "the unreachable taints")
    noexecute = next(t for t in node_json(cluster, "lc-a")["spec"]["taints"] if t["effect"] == "NoExecute")
    assert noexecute.get("timeAdded")
    assert "NotReady" in cluster.kubectl("get", "node", "lc-a", check=True).stdout

    for pod in ("lc-daemon", "lc-web"):
        wait_for(lambda pod=pod: pod_ready(core, pod) == "False", 2, f"{pod} Ready=False")
        live = core.read_namespaced_pod(pod, "default")
        assert live.status.phase == "Running" and live.metadata.deletion_timestamp is None
    events = core.list_namespaced_event("default", field_selector="reason=NodeNotReady").items
    about = {(e.involved_object.kind, e.involved_object.name, e.message, e.source.component) for e in events}
    assert ("Node", "lc-a", "Node lc-a status is now: NodeNotReady", "node-controller") in about
    assert ("Pod", "lc-web", "Node is not ready", "node-controller") in about

    post_ready(core, "lc-a")  # the agent is back: status posted, Lease renewed
    leases.patch_namespaced_lease("lc-a", "kube-node-lease", {"spec": {"renewTime": stamp()}})
    wait_for(lambda: taints(core, "lc-a") == [], 1.5, "the taints to go")
    assert node_ready(core, "lc-a") == "True"
    assert pod_or_none(core, "lc-daemon") is not None and pod_or_none(core, "lc-web") is not None


def test_cordoned_node_gets_the_unschedulable_taint(cluster: Server, core: client.CoreV1Api) -> None:
    add_node(core, "lc-cordon")
    assert cluster.kubectl("cordon", "lc-cordon", check=True).stdout.strip() == "node/lc-cordon cordoned"
    wait_for(lambda: "unschedulable:NoSchedule" in taints(core, "lc-cordon"), 1.5, "the unschedulable taint")
    assert "SchedulingDisabled" in cluster.kubectl("get", "node", "lc-cordon", check=True).stdout
    cluster.kubectl("uncordon", "lc-cordon", check=True)
    wait_for(lambda: "unschedulable:NoSchedule" not in taints(core, "lc-cordon"), 1.5, "the taint to go")


def test_never_reporting_node_goes_unknown_after_the_startup_grace(core: client.CoreV1Api) -> None:
    core.create_node({"metadata": {"name": "lc-silent"}})
    created = time.monotonic()
    time.sleep(STARTUP_GRACE / 2)
    assert node_ready(core, "lc-silent") is None and taints(core, "lc-silent") == ["not-ready:NoSchedule"]
    wait_for(lambda: node_ready(core, "lc-silent") == "Unknown", STARTUP_GRACE + 1, "NodeStatusNeverUpdated")
    assert time.monotonic() - created >= STARTUP_GRACE - 1  # creationTimestamp has whole seconds
    ready = next(c for c in core.read_node("lc-silent").status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == ("NodeStatusNeverUpdated", "Kubelet never posted node status.")
    wait_for(lambda: taints(core, "lc-silent") == UNREACHABLE, 1, "the unreachable taints")


def test_noexecute_taints_evict_pods_that_do_not_tolerate_them(cluster: Server, core: client.CoreV1Api) -> None:
    add_node(core, "lc-sick", ready="False")  # the agent itself reports NotReady
    wait_for(
        lambda: taints(core, "lc-sick") == ["not-ready:NoSchedule", "not-ready:NoExecute"], 1.5, "not-ready taints"
    )
    add_pod(core, "lc-daemon-2", "lc-sick", DAEMON_TOLERATIONS)
    add_pod(core, "lc-patient", "lc-sick", DEFAULT_TOLERATIONS)
    maintenance = {"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
    add_pod(core, "lc-brief", "lc-sick", [*DAEMON_TOLERATIONS, maintenance])
    plain = {"nodeName": "lc-sick", "terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "b"}]}
    core.create_namespaced_pod("default", {"metadata": {"name": "lc-plain"}, "spec": plain})
    wait_for(lambda: pod_or_none(core, "lc-plain") is None, 1.5, "the intolerant pod to be deleted")
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=lc-plain").items
    assert "TaintManagerEviction" in {e.reason for e in events}

    time.sleep(0.5)
    for survivor in ("lc-daemon-2", "lc-patient", "lc-brief"):  # DaemonSet tolerations: for ever; defaults: 300 s
        pod = pod_or_none(core, survivor)
        assert pod is not None and pod.metadata.deletion_timestamp is None, survivor

    # A NoExecute taint outside the automatic tolerations removes DaemonSet pods too (§5.4, out-of-service).
    tainted = cluster.kubectl("taint", "node", "lc-sick", "maintenance=now:NoExecute")
    assert tainted.stdout.strip() == "node/lc-sick tainted", tainted.stderr
    since = time.monotonic()
    for gone in ("lc-daemon-2", "lc-patient"):
        wait_for(lambda gone=gone: pod_or_none(core, gone) is None, 1.5, f"{gone} to go at once")
    wait_for(lambda: pod_or_none(core, "lc-brief") is None, 3, "the pod tolerating 1 s to go")
    assert time.monotonic() - since >= 0.5


def test_pods_of_a_deleted_node_are_collected_after_the_quarantine(core: client.CoreV1Api) -> None:
    add_node(core, "lc-gone")
    add_pod(core, "lc-orphan", "lc-gone", DAEMON_TOLERATIONS)
    core.delete_node("lc-gone")
    deleted = time.monotonic()
    assert pod_or_none(core, "lc-orphan") is not None
    wait_for(lambda: pod_or_none(core, "lc-orphan") is None, QUARANTINE + 1.5, "pod GC")
    assert time.monotonic() - deleted >= QUARANTINE - 0.2
