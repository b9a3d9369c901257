"""The DaemonSet controller and the binder against a real server, scenario by scenario (§7).

One server for the module; each test has its own namespace, its own nodes (labelled ``suite:
<namespace>``, which its DaemonSet selects) and a fake kubelet answering for every node. Nodes get
a one-hour heartbeat grace so the node lifecycle controller leaves them alone.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from miniplane.controllers.daemonset.history import revision_data
from tests.integration.daemonset_kit import (
    APPS,
    Cluster,
    NamespaceScenario,
    Obj,
    daemonset,
    is_ready,
    node,
    running_cluster,
    wait_for,
)

AUTOMATIC_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running_cluster(tmp_path_factory.mktemp("ds"))


class Scenario(NamespaceScenario):
    """A namespace with three nodes by default; ``pods`` leaves terminating pods out."""

    def __init__(self, cluster: Cluster, name: str, nodes: int = 3, **node_args: Any) -> None:
        super().__init__(cluster, name, nodes, **node_args)

    def pods(self, name: str, *, live: bool = True) -> list[Obj]:
        return [p for p in self.all_pods(name) if not (live and p["metadata"].get("deletionTimestamp"))]

    def running_on_all(self, name: str, nodes: list[str] | None = None) -> list[Obj] | None:
        """One available pod on each wanted node and none elsewhere (RUNNING-ON-ALL), or None."""
        pods = [p for p in self.pods(name) if is_ready(p)]
        placed = sorted(p["spec"].get("nodeName", "") for p in pods)
        return pods if placed == sorted(self.nodes if nodes is None else nodes) else None

    def status_is(self, name: str, **expected: int) -> Obj | None:
        ds = self.ds(name)
        status = ds.get("status") or {}
        ok = all(status.get(k, 0) == v for k, v in expected.items())
        return ds if ok and status.get("observedGeneration") == ds["metadata"]["generation"] else None

    def node_path(self, index: int) -> str:
        return f"/api/v1/nodes/{self.nodes[index]}"


def _hash(obj: Obj) -> str:
    return str(obj["metadata"]["labels"]["controller-revision-hash"])


def test_pods_on_every_node_with_labels_owner_tolerations_affinity_and_status(cluster: Cluster) -> None:
    server, http = cluster.server, cluster.http
    s = Scenario(cluster, "basic")
    ds = s.create(daemonset("agent", s.selector))
    pods = wait_for(lambda: s.running_on_all("agent"), what="a ready pod per node")
    revision = wait_for(lambda: s.revisions("agent"))[0]
    for pod in pods:
        meta, spec = pod["metadata"], pod["spec"]
        assert meta["name"].startswith("agent-") and len(meta["name"]) == len("agent-") + 5
        labels = {"app": "agent", "controller-revision-hash": _hash(revision), "pod-template-generation": "1"}
        assert meta["labels"] == labels
        assert meta["ownerReferences"] == [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": ds["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}
        ]  # fmt: skip
        assert spec["tolerations"] == AUTOMATIC_TOLERATIONS
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [spec["nodeName"]]}]}]
        scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        assert scheduled["status"] == "True"
    wait_for(lambda: s.status_is("agent", desiredNumberScheduled=3, currentNumberScheduled=3, numberReady=3,
                                 numberAvailable=3, updatedNumberScheduled=3, numberMisscheduled=0))  # fmt: skip
    apps = client.AppsV1Api(config.new_client_from_config(str(server.kubeconfig)))
    status = apps.read_namespaced_daemon_set_status("agent", s.ns).status
    assert (status.desired_number_scheduled, status.number_unavailable) == (3, None)
    assert "successfully rolled out" in s.kubectl("rollout", "status", "ds/agent", "--timeout=10s")
    described = s.kubectl("describe", "ds", "agent")
    assert "SuccessfulCreate" in described and "Created pod: agent-" in described
    assert "Pods Status:  3 Running / 0 Waiting / 0 Succeeded / 0 Failed" in described
    events = http.items(f"/api/v1/namespaces/{s.ns}/events")
    assert any(e["reason"] == "Scheduled" and e["source"]["component"] == "default-scheduler" for e in events)

    victim = pods[0]["metadata"]["name"]
    http.delete(f"/api/v1/namespaces/{s.ns}/pods/{victim}")
    wait_for(lambda: (r := s.running_on_all("agent")) and victim not in {p["metadata"]["name"] for p in r})


def test_revision_data_is_served_byte_exact_even_after_a_rollback(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "bytes", nodes=1)
    s.create(daemonset("exact", s.selector, args=["sh", "-c", "test 1 -lt 2 && echo '<ok>' > /tmp/x"]))
    first = wait_for(lambda: s.revisions("exact"))[0]["metadata"]["name"]
    expected = revision_data(s.ds("exact")["spec"]["template"])
    assert b"\\u0026\\u0026" in expected and b"\\u003cok\\u003e" in expected

    def served(name: str) -> bytes:
        raw = http.request("GET", f"{APPS}/namespaces/{s.ns}/controllerrevisions/{name}")
        return raw[raw.index(b'"data":') + len(b'"data":') :][: len(expected)]

    assert served(first) == expected
    http.patch(f"{APPS}/namespaces/{s.ns}/daemonsets/exact", _image_patch("busybox:2"), "strategic-merge")
    wait_for(lambda: len(s.revisions("exact")) == 2)
    s.kubectl("rollout", "undo", "ds/exact")
    wait_for(lambda: {r["metadata"]["name"]: r["revision"] for r in s.revisions("exact")}.get(first) == 3)
    assert served(first) == expected  # renumbered by the controller, bytes untouched


def test_min_ready_seconds_makes_pods_available_later_without_another_event(cluster: Cluster) -> None:
    s = Scenario(cluster, "minready", nodes=1)
    s.create(daemonset("patient", s.selector, minReadySeconds=2))
    wait_for(lambda: s.status_is("patient", numberReady=1, numberAvailable=0, numberUnavailable=1))
    wait_for(lambda: s.status_is("patient", numberReady=1, numberAvailable=1), timeout=6)


def test_node_selector_follows_node_labels_and_template_patch(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "select", nodes=2)
    s.create(daemonset("picky", {**s.selector, "color": "blue"}))
    wait_for(lambda: s.status_is("picky", desiredNumberScheduled=0, currentNumberScheduled=0))
    assert s.pods("picky") == []
    http.patch(s.node_path(0), {"metadata": {"labels": {"color": "blue"}}})
    wait_for(lambda: s.running_on_all("picky", [s.nodes[0]]), what="a pod on the blue node")
    wait_for(lambda: s.status_is("picky", desiredNumberScheduled=1, currentNumberScheduled=1, numberReady=1))
    http.patch(s.node_path(0), {"metadata": {"labels": {"color": "green"}}})
    wait_for(lambda: not s.pods("picky"), what="the pod to go once the node is green")
    green = {"nodeSelector": {"color": "green"}}
    patch = {"spec": {"template": {"spec": green}, "updateStrategy": {"type": "RollingUpdate"}}}
    http.patch(f"{APPS}/namespaces/{s.ns}/daemonsets/picky", patch, "strategic-merge")
    wait_for(lambda: s.running_on_all("picky", [s.nodes[0]]), what="a pod on the green node")
    wait_for(lambda: s.status_is("picky", desiredNumberScheduled=1, numberReady=1, numberMisscheduled=0))


def test_noschedule_taint_keeps_the_pod_noexecute_removes_it(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "taints", nodes=2)
    s.create(daemonset("tolerant", s.selector))
    pods = wait_for(lambda: s.running_on_all("tolerant"))
    on = {p["spec"]["nodeName"]: p["metadata"]["name"] for p in pods}
    http.patch(s.node_path(0), {"spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]}})
    wait_for(lambda: s.status_is("tolerant", desiredNumberScheduled=1, currentNumberScheduled=1, numberMisscheduled=1))
    assert on[s.nodes[0]] in {p["metadata"]["name"] for p in s.pods("tolerant")}
    http.patch(s.node_path(1), {"spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoExecute"}]}})
    wait_for(lambda: [p["spec"].get("nodeName") for p in s.pods("tolerant")] == [s.nodes[0]], what="NoExecute eviction")
    wait_for(lambda: s.status_is("tolerant", desiredNumberScheduled=0, currentNumberScheduled=0, numberMisscheduled=1))
    for index in range(2):
        http.patch(s.node_path(index), {"spec": {"taints": None}})
    pods = wait_for(lambda: s.running_on_all("tolerant"))
    assert on[s.nodes[0]] in {p["metadata"]["name"] for p in pods}  # never restarted
    wait_for(lambda: s.status_is("tolerant", desiredNumberScheduled=2, numberReady=2, numberMisscheduled=0))


def test_a_not_ready_node_gets_no_new_pod_untilis_ready(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "notready", nodes=1)
    http.post("/api/v1/nodes", node("notready-late", s.selector, ready=False))
    s.create(daemonset("waits", s.selector))
    wait_for(lambda: s.running_on_all("waits", s.nodes))
    wait_for(lambda: s.status_is("waits", desiredNumberScheduled=1, numberReady=1))
    time.sleep(0.3)
    assert len(s.pods("waits")) == 1
    ready = node("notready-late", s.selector)["status"]["conditions"]
    http.patch("/api/v1/nodes/notready-late/status", {"status": {"conditions": ready}})
    wait_for(lambda: s.running_on_all("waits", [*s.nodes, "notready-late"]), what="a pod once the node is Ready")


def _image_patch(image: str) -> Obj:
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}


def _update_and_watch(s: Scenario, name: str, image: str) -> tuple[int, int]:
    """Change the image and follow every pod change (a watch: no state is missed) until every node
    runs it ready. Returns the most nodes without a ready pod and the most live pods on one node."""
    listed = s.http.get(f"/api/v1/namespaces/{s.ns}/pods?labelSelector=app%3D{name}")
    pods = {p["metadata"]["name"]: p for p in listed["items"]}
    s.http.patch(f"{APPS}/namespaces/{s.ns}/daemonsets/{name}", _image_patch(image), "strategic-merge")
    worst = crowded = 0
    query = (
        f"labelSelector=app%3D{name}&watch=1&timeoutSeconds=30&resourceVersion={listed['metadata']['resourceVersion']}"
    )
    with s.http.server.urlopen(f"{s.http.url}/api/v1/namespaces/{s.ns}/pods?{query}") as stream:
        for line in stream:
            event = json.loads(line)
            pod = event["object"]
            if event["type"] == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                pods.pop(pod["metadata"]["name"], None)
            else:
                pods[pod["metadata"]["name"]] = pod
            per_node = Counter(p["spec"].get("nodeName") or _target(p) for p in pods.values())
            ready = {p["spec"].get("nodeName") for p in pods.values() if is_ready(p)}
            worst = max(worst, sum(n not in ready for n in s.nodes))
            crowded = max(crowded, *per_node.values())
            images = {p["spec"]["containers"][0]["image"] for p in pods.values()}
            if len(pods) == len(s.nodes) and len(ready) == len(s.nodes) and images == {image}:
                return worst, crowded
    raise AssertionError(f"rollout to {image} did not finish")


def _target(pod: Obj) -> str:
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return str(terms["nodeSelectorTerms"][0]["matchFields"][0]["values"][0])


def test_rolling_update_replaces_one_pod_at_a_time(cluster: Cluster) -> None:
    s = Scenario(cluster, "rolling")
    s.create(daemonset("roll", s.selector))
    wait_for(lambda: s.running_on_all("roll"))
    first = wait_for(lambda: s.revisions("roll"))[0]
    worst, crowded = _update_and_watch(s, "roll", "busybox:2")
    assert worst == 1 and crowded == 1  # one node at a time, never two pods on a node
    revisions = {r["revision"]: r for r in s.revisions("roll")}
    assert sorted(revisions) == [1, 2] and _hash(revisions[1]) == _hash(first)
    assert {_hash(p) for p in s.pods("roll")} == {_hash(revisions[2])}
    assert "successfully rolled out" in s.kubectl("rollout", "status", "ds/roll", "--timeout=10s")


def test_surge_update_keeps_every_node_available(cluster: Cluster) -> None:
    s = Scenario(cluster, "surge")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    s.create(daemonset("surge", s.selector, updateStrategy=strategy))
    wait_for(lambda: s.running_on_all("surge"))
    worst, crowded = _update_and_watch(s, "surge", "busybox:2")
    assert worst == 0 and crowded == 2  # a second pod on a node, and no node ever without a ready one
    wait_for(lambda: s.status_is("surge", desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=3))


def test_on_delete_replaces_only_deleted_pods(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "ondelete", nodes=2)
    s.create(daemonset("lazy", s.selector, updateStrategy={"type": "OnDelete"}))
    before = wait_for(lambda: s.running_on_all("lazy"))
    http.patch(f"{APPS}/namespaces/{s.ns}/daemonsets/lazy", _image_patch("busybox:2"), "strategic-merge")
    wait_for(lambda: s.status_is("lazy", desiredNumberScheduled=2, updatedNumberScheduled=0, numberReady=2))
    assert len(s.revisions("lazy")) == 2
    time.sleep(0.3)
    assert {p["metadata"]["name"] for p in s.pods("lazy")} == {p["metadata"]["name"] for p in before}
    http.delete(f"/api/v1/namespaces/{s.ns}/pods/{before[0]['metadata']['name']}")
    pods = wait_for(lambda: s.running_on_all("lazy"))
    assert sorted(p["spec"]["containers"][0]["image"] for p in pods) == ["busybox:1", "busybox:2"]
    wait_for(lambda: s.status_is("lazy", updatedNumberScheduled=1))
    refused = s.server.kubectl("rollout", "status", "ds/lazy", "-n", s.ns)
    assert "rollout status is only available for RollingUpdate strategy type" in refused.stderr


def test_rollback_restarts_nothing_already_at_the_target_revision(cluster: Cluster) -> None:
    s = Scenario(cluster, "undo")
    cluster.kubelet.broken.add("foo:non-existent")
    s.create(daemonset("undo", s.selector))
    wait_for(lambda: s.running_on_all("undo"))
    s.http.patch(f"{APPS}/namespaces/{s.ns}/daemonsets/undo", _image_patch("foo:non-existent"), "strategic-merge")
    broken = wait_for(lambda: [p for p in s.pods("undo") if p["spec"]["containers"][0]["image"] == "foo:non-existent"])
    time.sleep(0.3)  # the rollout stalls on the broken pod
    pods = s.pods("undo")
    kept = {p["metadata"]["name"] for p in pods if p["spec"]["containers"][0]["image"] == "busybox:1"}
    assert len(broken) == 1 and len(kept) == 2
    history = s.kubectl("rollout", "history", "ds/undo")
    assert "REVISION  CHANGE-CAUSE" in history and "1         <none>" in history and "2         <none>" in history
    assert "daemonset.apps/undo rolled back" in s.kubectl("rollout", "undo", "ds/undo")
    pods = wait_for(lambda: s.running_on_all("undo"))
    assert kept <= {p["metadata"]["name"] for p in pods}
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"busybox:1"}
    assert sorted(r["revision"] for r in s.revisions("undo")) == [2, 3]
    skipped = s.kubectl("rollout", "undo", "ds/undo", "--to-revision=3")
    assert "skipped rollback (current template already matches revision 3)" in skipped


def test_a_failed_pod_is_deleted_and_recreated(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "failed", nodes=2)
    s.create(daemonset("phoenix", s.selector))
    pod = wait_for(lambda: s.running_on_all("phoenix"))[0]
    path = f"/api/v1/namespaces/{s.ns}/pods/{pod['metadata']['name']}"
    del pod["metadata"]["resourceVersion"]
    pod["status"]["phase"] = "Failed"
    http.put(path + "/status", pod)
    wait_for(lambda: not http.exists(path), what="the failed pod to be deleted")
    wait_for(lambda: s.running_on_all("phoenix"))
    reasons = {e["reason"] for e in http.items(f"/api/v1/namespaces/{s.ns}/events")}
    assert {"FailedDaemonPod", "SuccessfulDelete", "SuccessfulCreate"} <= reasons


def test_orphaned_pods_are_adopted_by_an_identical_daemonset(cluster: Cluster) -> None:
    s = Scenario(cluster, "orphans", nodes=2)
    s.create(daemonset("again", s.selector))
    names = {p["metadata"]["name"] for p in wait_for(lambda: s.running_on_all("again"))}
    revision = wait_for(lambda: s.revisions("again"))[0]["metadata"]["name"]
    s.kubectl("delete", "ds", "again", "--cascade=orphan")
    wait_for(lambda: all(not p["metadata"].get("ownerReferences") for p in s.pods("again")), what="orphaned pods")
    uid = s.create(daemonset("again", s.selector))["metadata"]["uid"]
    wait_for(lambda: all(p["metadata"].get("ownerReferences", [{}])[0].get("uid") == uid for p in s.pods("again")))
    assert {p["metadata"]["name"] for p in s.pods("again")} == names
    revisions = s.revisions("again")
    assert [r["metadata"]["name"] for r in revisions] == [revision]
    wait_for(lambda: s.revisions("again")[0]["metadata"]["ownerReferences"][0]["uid"] == uid)
    wait_for(lambda: s.status_is("again", desiredNumberScheduled=2, numberReady=2, updatedNumberScheduled=2))
    assert {p["metadata"]["name"] for p in s.pods("again")} == names


def test_a_pod_that_does_not_fit_waits_until_the_node_frees_up(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "fit", nodes=1, cpu="1")
    hog = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hog"},
        "spec": {
            "nodeSelector": s.selector,
            "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "800m"}}}],
        },
    }
    http.post(f"/api/v1/namespaces/{s.ns}/pods", hog)
    wait_for(lambda: http.get(f"/api/v1/namespaces/{s.ns}/pods/hog")["spec"].get("nodeName") == s.nodes[0])
    s.create(daemonset("big", s.selector, requests={"cpu": "500m"}))

    def unschedulable() -> Obj | None:
        pods = s.pods("big")
        conditions = pods[0].get("status", {}).get("conditions", []) if pods else []
        return next((c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    condition = wait_for(unschedulable, what="PodScheduled=False")
    assert condition["reason"] == "Unschedulable"
    assert condition["message"].startswith("0/") and "1 Insufficient cpu" in condition["message"]
    assert "preemption: 0/" in condition["message"]
    wait_for(lambda: s.status_is("big", desiredNumberScheduled=1, currentNumberScheduled=1, numberReady=0))
    events = http.items(f"/api/v1/namespaces/{s.ns}/events")
    assert any(e["reason"] == "FailedScheduling" and e["type"] == "Warning" for e in events)
    http.delete(f"/api/v1/namespaces/{s.ns}/pods/hog")
    wait_for(lambda: s.running_on_all("big"), what="the daemon pod to bind once the hog is gone")
