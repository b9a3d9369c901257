"""Helpers for the DaemonSet controller tests: raw HTTP, object builders, and a fake kubelet.

The fake kubelet watches every pod and plays the node agent: a bound pod becomes Running and Ready
(Ready with a ``lastTransitionTime``, container statuses), unless its image is in ``broken`` (then
it stays Pending with ``ErrImagePull``); a terminating pod is deleted with grace 0.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from tests.cluster import Server, start_server

T = TypeVar("T")
Obj = dict[str, Any]
APPS = "/apis/apps/v1"


class Http:
    """JSON over HTTP to the API server (stdlib only, so responses are seen byte for byte)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> bytes:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", content_type)
        with self.server.urlopen(req, timeout=30) as reply:
            return bytes(reply.read())

    def get(self, path: str) -> Obj:
        result: Obj = json.loads(self.request("GET", path))
        return result

    def items(self, path: str) -> list[Obj]:
        return list(self.get(path)["items"])

    def post(self, path: str, body: Obj) -> Obj:
        result: Obj = json.loads(self.request("POST", path, body))
        return result

    def patch(self, path: str, body: Obj, kind: str = "merge") -> Obj:
        result: Obj = json.loads(self.request("PATCH", path, body, f"application/{kind}-patch+json"))
        return result

    def put(self, path: str, body: Obj) -> Obj:
        result: Obj = json.loads(self.request("PUT", path, body))
        return result

    def delete(self, path: str, body: Obj | None = None) -> None:
        try:
            self.request("DELETE", path, body)
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise

    def exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return False
            raise
        return True


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(check: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def node(
    name: str, labels: dict[str, str], *, ready: bool = True, cpu: str = "4", taints: list[Obj] | None = None
) -> Obj:
    stamp = now()
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": stamp,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {"taints": taints or []},
        "status": {
            "conditions": [condition],
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
        },
    }


def daemonset(name: str, node_selector: dict[str, str], *, image: str = "busybox:1", **spec: Any) -> Obj:
    """A DaemonSet labelled ``app: <name>``; ``spec`` extras: updateStrategy, minReadySeconds, ..."""
    container: Obj = {"name": "app", "image": image, "args": spec.pop("args", ["sleep", "infinity"])}
    if "requests" in spec:
        container["resources"] = {"requests": spec.pop("requests")}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"nodeSelector": node_selector, "terminationGracePeriodSeconds": 0, "containers": [container]},
            },
            **spec,
        },
    }


def ready_status(pod: Obj) -> Obj:
    stamp = now()
    conditions = [
        {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp}
        for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
    ]
    containers = [
        {"name": c["name"], "image": c["image"], "imageID": "", "ready": True, "restartCount": 0, "started": True,
         "state": {"running": {"startedAt": stamp}}}
        for c in pod["spec"]["containers"]
    ]  # fmt: skip
    return {
        "status": {"phase": "Running", "startTime": stamp, "conditions": conditions, "containerStatuses": containers}
    }


def pulling_status(pod: Obj) -> Obj:
    containers = [
        {"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0, "started": False,
         "state": {"waiting": {"reason": "ErrImagePull", "message": "pull failed"}}}
        for c in pod["spec"]["containers"]
    ]  # fmt: skip
    return {"status": {"phase": "Pending", "containerStatuses": containers}}


class FakeKubelet(threading.Thread):
    """Watches all pods and answers for every node, until ``stop``."""

    def __init__(self, http: Http) -> None:
        super().__init__(daemon=True)
        self.http = http
        self.broken: set[str] = set()
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)

    def run(self) -> None:
        rv = ""
        while not self.stopped.is_set():
            try:
                if not rv:
                    listed = self.http.get("/api/v1/pods")
                    for pod in listed["items"]:
                        self.handle(pod)
                    rv = listed["metadata"]["resourceVersion"]
                rv = self._watch(rv)
            except (OSError, ValueError):
                rv = ""
                time.sleep(0.1)

    def _watch(self, rv: str) -> str:
        """Handle events for a second; the resourceVersion to resume from ("" to re-list)."""
        url = f"{self.http.url}/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=1"
        with self.http.server.urlopen(url, timeout=10) as stream:
            for line in stream:
                event = json.loads(line)
                if event["type"] == "ERROR":
                    return ""
                rv = event["object"]["metadata"]["resourceVersion"]
                if event["type"] in ("ADDED", "MODIFIED") and not self.stopped.is_set():
                    self.handle(event["object"])
        return rv

    def handle(self, pod: Obj) -> None:
        meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        try:
            if meta.get("deletionTimestamp"):
                self.http.delete(path, {"gracePeriodSeconds": 0})
            elif not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
                return
            elif spec["containers"][0]["image"] in self.broken:
                if status.get("phase") != "Pending" or not status.get("containerStatuses"):
                    self.http.patch(path + "/status", pulling_status(pod))
            elif status.get("phase") != "Running":
                self.http.patch(path + "/status", ready_status(pod))
        except urllib.error.HTTPError as err:
            if err.code not in (404, 409):
                raise


@dataclass
class Cluster:
    """A real server (node lifecycle kept out of the way) with a fake kubelet."""

    server: Server
    http: Http
    kubelet: FakeKubelet


def running_cluster(data_dir: Path) -> Iterator[Cluster]:
    """Start a server and a fake kubelet for a module fixture; stop both afterwards."""
    server = start_server(data_dir, "--node-monitor-grace-period", "1h")
    http = Http(server)
    kubelet = FakeKubelet(http)
    kubelet.start()
    yield Cluster(server, http, kubelet)
    kubelet.stop()
    server.stop()


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


class NamespaceScenario:
    """One test's namespace and nodes (labelled ``suite: <namespace>``) and its DaemonSet paths."""

    def __init__(self, cluster: Cluster, name: str, nodes: int = 0, **node_args: Any) -> None:
        self.server, self.http, self.ns = cluster.server, cluster.http, name
        self.selector = {"suite": name}
        self.http.post("/api/v1/namespaces", {"metadata": {"name": name}})
        self.nodes = [f"{name}-{i}" for i in range(nodes)]
        for node_name in self.nodes:
            self.http.post("/api/v1/nodes", node(node_name, self.selector, **node_args))

    @property
    def ds_path(self) -> str:
        return f"{APPS}/namespaces/{self.ns}/daemonsets"

    @property
    def cr_path(self) -> str:
        return f"{APPS}/namespaces/{self.ns}/controllerrevisions"

    def create(self, ds: Obj) -> Obj:
        return self.http.post(self.ds_path, ds)

    def ds(self, name: str) -> Obj:
        return self.http.get(f"{self.ds_path}/{name}")

    def all_pods(self, name: str) -> list[Obj]:
        return self.http.items(f"/api/v1/namespaces/{self.ns}/pods?labelSelector=app%3D{name}")

    def revisions(self, name: str) -> list[Obj]:
        return self.http.items(f"{self.cr_path}?labelSelector=app%3D{name}")

    def kubectl(self, *args: str, check: bool = True) -> str:
        return self.server.kubectl(*args, "-n", self.ns, check=check).stdout
