"""Kubernetes' own DaemonSet scenarios (§7) not covered by ``test_daemonset_controller.py``.

kubectl's ``apps.sh`` DaemonSet tests (§7.4), the conformance list/delete-collection and status tests
(§7.1 items 9 and 10), the ControllerRevision lifecycle (§7.2) and some integration tests (§7.3), each
against one shared real server, in its own namespace with its own nodes and a fake kubelet.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.integration.daemonset_kit import (
    APPS,
    Cluster,
    Http,
    NamespaceScenario,
    Obj,
    daemonset,
    is_ready,
    node,
    now,
    running_cluster,
    wait_for,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running_cluster(tmp_path_factory.mktemp("scenarios"))


class Scenario(NamespaceScenario):
    """A namespace with no nodes by default."""

    def generation(self, name: str) -> int:
        return int(self.ds(name)["metadata"]["generation"])

    def pods(self, name: str) -> list[Obj]:
        return self.all_pods(name)

    def active_pods(self, name: str) -> list[Obj]:
        """Pods neither terminating nor in a terminal phase."""
        return [
            p
            for p in self.pods(name)
            if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]

    def running_on(self, name: str, nodes: list[str]) -> list[Obj] | None:
        """One ready pod on each of ``nodes`` and no other active pod, or None."""
        pods = self.active_pods(name)
        placed = sorted(p["spec"].get("nodeName", "") for p in pods)
        return pods if placed == sorted(nodes) and all(is_ready(p) for p in pods) else None

    def replaced(self, name: str, victim: str) -> list[Obj] | None:
        """A ready pod on every node, none of them ``victim``, or None."""
        pods = self.running_on(name, self.nodes)
        return pods if pods and victim not in {p["metadata"]["name"] for p in pods} else None

    def status_ok(self, name: str, count: int) -> Obj | None:
        """STATUS-OK: the status reports ``count`` scheduled, ready and available pods, observed."""
        ds = self.ds(name)
        status = ds.get("status") or {}
        wanted = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberAvailable")
        ok = all(status.get(key, 0) == count for key in wanted)
        return ds if ok and status.get("observedGeneration") == ds["metadata"]["generation"] else None


def _condition_types(ds: Obj) -> list[str]:
    return [c["type"] for c in (ds.get("status") or {}).get("conditions") or []]


# --- §7.4 kubectl apps.sh -------------------------------------------------------------------------

BIND_V1 = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: bind
  labels:
    service: bind
spec:
  selector:
    matchLabels:
      service: bind
  template:
    metadata:
      labels:
        service: bind
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchExpressions:
              - key: service
                operator: In
                values: ["bind"]
            topologyKey: "kubernetes.io/hostname"
            namespaces: []
      containers:
      - name: kubernetes-pause
        image: registry.k8s.io/pause:2.0
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 10%
"""

BIND_V2 = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: bind
  labels:
    service: bind
spec:
  selector:
    matchLabels:
      service: bind
  template:
    metadata:
      labels:
        service: bind
    spec:
      containers:
      - name: kubernetes-pause
        image: registry.k8s.io/pause:latest
      - name: app
        image: registry.k8s.io/nginx:test-cmd
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 10%
"""


def test_kubectl_generation_tracks_apply_set_and_rollout_restart(cluster: Cluster, tmp_path: Path) -> None:
    s = Scenario(cluster, "apps-sh")
    manifest = tmp_path / "bind.yaml"
    manifest.write_text(BIND_V1)
    s.kubectl("apply", "-f", str(manifest))
    assert s.generation("bind") == 1
    s.kubectl("apply", "-f", str(manifest))
    assert s.generation("bind") == 1

    s.kubectl("set", "image", "daemonsets/bind", "*=registry.k8s.io/pause:test-cmd")
    assert s.generation("bind") == 2
    s.kubectl("set", "env", "daemonsets/bind", "foo=bar")
    assert s.generation("bind") == 3
    s.kubectl("set", "resources", "daemonsets/bind", "--limits=cpu=200m,memory=512Mi")
    assert s.generation("bind") == 4
    container = s.ds("bind")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.k8s.io/pause:test-cmd"
    assert container["env"] == [{"name": "foo", "value": "bar"}]
    assert container["resources"]["limits"] == {"cpu": "200m", "memory": "512Mi"}

    managers = s.kubectl(
        "get", "ds", "bind", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"
    )
    assert "kubectl-set" in managers.split()

    described = s.kubectl("describe", "daemonsets", "--chunk-size=1")
    assert "Name:           bind" in described and "Pod Template:" in described
    assert "registry.k8s.io/pause:test-cmd" in described

    s.kubectl("rollout", "restart", "daemonset/bind")
    ds = s.ds("bind")
    assert ds["metadata"]["generation"] == 5
    assert "kubectl.kubernetes.io/restartedAt" in ds["spec"]["template"]["metadata"]["annotations"]
    s.kubectl("delete", "ds", "bind")
    wait_for(lambda: not s.http.exists(f"{s.ds_path}/bind"), what="the DaemonSet to go")


def _template_images(s: Scenario) -> list[str]:
    return [c["image"] for c in s.ds("bind")["spec"]["template"]["spec"]["containers"]]


def _history_revisions(history: str) -> list[str]:
    """The REVISION column of ``kubectl rollout history``."""
    lines = history.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("REVISION"))
    return [line.split()[0] for line in lines[start + 1 :] if line.strip()]


def test_kubectl_rollout_history_record_and_undo(cluster: Cluster, tmp_path: Path) -> None:
    s = Scenario(cluster, "apps-sh-history")
    v1, v2 = tmp_path / "bind-v1.yaml", tmp_path / "bind-v2.yaml"
    v1.write_text(BIND_V1)
    v2.write_text(BIND_V2)
    s.kubectl("apply", "-f", str(v1), "--record")

    def recorded(fragment: str) -> bool:
        revisions = s.http.items(f"{s.cr_path}?labelSelector=service%3Dbind")
        causes = [r["metadata"].get("annotations", {}).get("kubernetes.io/change-cause", "") for r in revisions]
        return any(fragment in cause for cause in causes)

    wait_for(lambda: recorded("bind-v1.yaml"), what="a revision recording the apply")
    s.kubectl("rollout", "undo", "daemonset/bind", "--to-revision=1")
    assert s.generation("bind") == 1

    s.kubectl("apply", "-f", str(v2), "--record")
    assert _template_images(s) == ["registry.k8s.io/pause:latest", "registry.k8s.io/nginx:test-cmd"]
    wait_for(lambda: recorded("bind-v2.yaml"), what="a revision recording the second apply")

    def history_with_two() -> str | None:
        history = s.kubectl("rollout", "history", "daemonset/bind")
        return history if _history_revisions(history) == ["1", "2"] else None

    history = wait_for(history_with_two, what="two revisions in the history")
    assert "daemonset.apps/bind" in history and "REVISION  CHANGE-CAUSE" in history
    assert "1         kubectl apply" in history and "2         kubectl apply" in history
    first = s.kubectl("rollout", "history", "daemonset/bind", "--revision=1")
    assert "daemonset.apps/bind with revision #1" in first and "Pod Template:" in first
    assert "registry.k8s.io/pause:2.0" in first
    second = s.kubectl("rollout", "history", "daemonset/bind", "--revision=2")
    assert "registry.k8s.io/pause:latest" in second and "registry.k8s.io/nginx:test-cmd" in second

    for dry_run in ("--dry-run=client", "--dry-run=server"):
        s.kubectl("rollout", "undo", "daemonset/bind", dry_run)
        assert _template_images(s) == ["registry.k8s.io/pause:latest", "registry.k8s.io/nginx:test-cmd"]

    s.kubectl("rollout", "undo", "daemonset/bind", "--to-revision=1")
    assert _template_images(s) == ["registry.k8s.io/pause:2.0"]
    wait_for(lambda: _history_revisions(s.kubectl("rollout", "history", "daemonset/bind")) == ["2", "3"])

    failed = s.server.kubectl("rollout", "undo", "daemonset/bind", "--to-revision=1000000", "-n", s.ns)
    assert failed.returncode != 0 and "unable to find specified revision" in failed.stderr
    assert _template_images(s) == ["registry.k8s.io/pause:2.0"]

    s.kubectl("rollout", "undo", "daemonset/bind")
    assert _template_images(s) == ["registry.k8s.io/pause:latest", "registry.k8s.io/nginx:test-cmd"]
    wait_for(lambda: _history_revisions(s.kubectl("rollout", "history", "daemonset/bind")) == ["3", "4"])


# --- §7.1 conformance: list/delete a collection, status changes ----------------------------------


def _labelled_daemonset(name: str, node_selector: dict[str, str], labels: dict[str, str]) -> Obj:
    """A DaemonSet carrying ``labels`` on its own metadata as well as on its pods."""
    ds = daemonset(name, node_selector)
    ds["metadata"]["labels"] = dict(labels)
    ds["spec"]["selector"]["matchLabels"].update(labels)
    ds["spec"]["template"]["metadata"]["labels"].update(labels)
    return ds


def test_list_and_delete_a_collection_of_daemonsets_by_label(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "collection", nodes=2)
    label = {"daemonset-name": "collection-ds"}
    s.create(_labelled_daemonset("collection-ds", s.selector, label))
    wait_for(lambda: s.running_on("collection-ds", s.nodes), what="a ready pod per node")
    wait_for(lambda: s.status_ok("collection-ds", 2), what="STATUS-OK")

    everywhere = http.items(f"{APPS}/daemonsets?labelSelector=daemonset-name%3Dcollection-ds")
    assert [d["metadata"]["name"] for d in everywhere] == ["collection-ds"]
    http.request(
        "DELETE",
        f"{s.ds_path}?labelSelector=daemonset-name%3Dcollection-ds",
        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 1},
    )
    assert http.items(f"{s.ds_path}?labelSelector=daemonset-name%3Dcollection-ds") == []
    wait_for(lambda: not s.pods("collection-ds"), what="the orphaned pods to be collected")


def _watch_until(http: Http, path: str, match: Callable[[Obj], bool], timeout: int = 20) -> Obj:
    """Watch ``path`` (which carries its own query) and return the first event object ``match`` accepts."""
    url = f"{http.url}{path}&watch=1&timeoutSeconds={timeout}"
    with http.server.urlopen(url, timeout=timeout + 10) as stream:
        for line in stream:
            event = json.loads(line)
            if event["type"] != "ERROR" and match(event["object"]):
                return dict(event["object"])
    raise AssertionError(f"no matching event on {path}")


def test_daemonset_status_can_be_read_replaced_and_patched(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "status-changes", nodes=2)
    selector = "labelSelector=daemonset-name%3Dstatus-ds"
    kept_rv = http.get(f"{APPS}/daemonsets?{selector}")["metadata"]["resourceVersion"]
    s.create(_labelled_daemonset("status-ds", s.selector, {"daemonset-name": "status-ds"}))
    wait_for(lambda: s.running_on("status-ds", s.nodes), what="a ready pod per node")
    wait_for(lambda: s.status_ok("status-ds", 2), what="STATUS-OK")

    status_path = f"{s.ds_path}/status-ds/status"
    api = client.AppsV1Api(config.new_client_from_config(str(cluster.server.kubeconfig)))
    read = api.read_namespaced_daemon_set_status("status-ds", s.ns)
    assert read.status is not None and read.status.number_ready == 2
    for _ in range(5):  # conflict retries, as the e2e test does
        current = http.get(status_path)
        conditions = (current.get("status") or {}).get("conditions") or []
        current["status"]["conditions"] = [
            *conditions,
            {"type": "StatusUpdate", "status": "True", "reason": "E2E", "message": "Set from e2e test"},
        ]
        try:
            replaced = http.put(status_path, current)
            break
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise
    else:
        raise AssertionError("status PUT kept conflicting")
    assert "StatusUpdate" in _condition_types(replaced)
    seen = _watch_until(
        http, f"{APPS}/daemonsets?{selector}&resourceVersion={kept_rv}", lambda o: "StatusUpdate" in _condition_types(o)
    )
    assert seen["metadata"]["name"] == "status-ds"

    patched = http.patch(status_path, {"status": {"conditions": [{"type": "StatusPatched", "status": "True"}]}})
    assert _condition_types(patched) == ["StatusPatched"]
    _watch_until(
        http,
        f"{APPS}/daemonsets?{selector}&resourceVersion={kept_rv}",
        lambda o: _condition_types(o) == ["StatusPatched"],
    )

    # The controller writes status again (a pod is replaced) but never wipes the conditions.
    victim = s.active_pods("status-ds")[0]["metadata"]["name"]
    http.delete(f"/api/v1/namespaces/{s.ns}/pods/{victim}")
    wait_for(lambda: s.replaced("status-ds", victim), what="a replacement pod")
    wait_for(lambda: s.status_ok("status-ds", 2), what="STATUS-OK after the replacement")
    assert _condition_types(s.ds("status-ds")) == ["StatusPatched"]


# --- §7.2 ControllerRevision lifecycle ------------------------------------------------------------


def test_controller_revision_lifecycle(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "revision-lifecycle", nodes=2)
    name = "e2e-abcde-daemon-set"
    label = "daemonset-name%3De2e-abcde-daemon-set"
    ds = s.create(_labelled_daemonset(name, s.selector, {"daemonset-name": name}))
    wait_for(lambda: s.running_on(name, s.nodes), what="a ready pod per node")
    wait_for(lambda: s.status_ok(name, 2), what="STATUS-OK")
    assert len(http.items(f"{APPS}/daemonsets?labelSelector={label}")) == 1

    def revisions() -> list[Obj]:
        return http.items(f"{APPS}/controllerrevisions?labelSelector={label}")

    original = wait_for(revisions, what="the first revision")
    assert len(original) == 1
    first = original[0]
    owner = first["metadata"]["ownerReferences"]
    assert [(o["kind"], o["uid"], o.get("controller")) for o in owner] == [("DaemonSet", ds["metadata"]["uid"], True)]
    first_path = f"{s.cr_path}/{first['metadata']['name']}"
    patched = http.patch(first_path, {"metadata": {"labels": {"first": "patched"}}}, kind="strategic-merge")
    assert patched["metadata"]["labels"]["first"] == "patched"

    duplicate = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{name}-7d9c5f6b8",
            "labels": patched["metadata"]["labels"],
            "annotations": patched["metadata"].get("annotations") or {},
            "ownerReferences": owner,
        },
        "data": patched["data"],
        "revision": patched["revision"] + 1,
    }
    second = http.post(s.cr_path, duplicate)
    assert len(revisions()) == 2
    http.delete(first_path)
    wait_for(lambda: len(revisions()) == 1, what="the original revision to go")

    second_path = f"{s.cr_path}/{second['metadata']['name']}"
    for _ in range(5):
        current = http.get(second_path)
        current["metadata"]["labels"]["second"] = "updated"
        try:
            http.put(second_path, current)
            break
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise
    assert http.get(second_path)["metadata"]["labels"]["second"] == "updated"

    stray = {"spec": {"template": {"spec": {"terminationGracePeriodSeconds": 1}}}, "e2e-stray-key": "dropped"}
    request = urllib.request.Request(
        f"{http.url}{s.ds_path}/{name}",
        data=json.dumps(stray).encode(),
        method="PATCH",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    with http.server.urlopen(request, timeout=30) as reply:
        updated = json.loads(reply.read())
        warning = reply.headers.get("Warning", "")
    assert "e2e-stray-key" not in updated
    assert warning == '299 - "unknown field \\"e2e-stray-key\\""'
    assert updated["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 1
    wait_for(lambda: len(revisions()) == 2, what="a revision for the new template")

    http.request("DELETE", f"{s.cr_path}?labelSelector=second%3Dupdated")
    wait_for(lambda: len(revisions()) == 1, what="one revision left")
    assert revisions()[0]["revision"] == 3
    wait_for(lambda: s.running_on(name, s.nodes), what="pods on the new template")


# --- §7.3 integration tests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "finalizer"),
    [("Succeeded", False), ("Failed", False), ("Succeeded", True)],
    ids=["succeeded", "failed", "succeeded-with-finalizer"],
)
def test_a_pod_in_a_terminal_phase_is_replaced(cluster: Cluster, phase: str, finalizer: bool) -> None:
    http = cluster.http
    ns = f"terminal-{phase.lower()}{'-finalizer' if finalizer else ''}"
    s = Scenario(cluster, ns, nodes=3)
    ds = daemonset("restarts", s.selector)
    if finalizer:
        ds["spec"]["template"]["metadata"]["finalizers"] = ["example.com/test-finalizer"]
    s.create(ds)
    pods = wait_for(lambda: s.running_on("restarts", s.nodes), what="a ready pod per node")
    wait_for(lambda: s.status_ok("restarts", 3), what="three ready")
    victim = pods[0]["metadata"]["name"]
    victim_path = f"/api/v1/namespaces/{s.ns}/pods/{victim}"
    http.patch(victim_path + "/status", {"status": {"phase": phase}})

    replaced = wait_for(lambda: s.replaced("restarts", victim), what=f"a replacement for the {phase} pod")
    assert len(replaced) == 3
    wait_for(lambda: s.status_ok("restarts", 3), what="three ready again")
    if finalizer:
        lingering = http.get(victim_path)
        assert lingering["metadata"].get("deletionTimestamp") and lingering["status"]["phase"] == phase
        for pod in s.pods("restarts"):  # let the namespace's pods go
            path = f"/api/v1/namespaces/{s.ns}/pods/{pod['metadata']['name']}"
            http.patch(path, {"metadata": {"finalizers": None}})
    else:
        wait_for(lambda: not http.exists(victim_path), what="the terminal pod to be deleted")


def test_host_network_daemon_lands_on_cordoned_and_network_unavailable_nodes(cluster: Cluster) -> None:
    """TestUnschedulableNodeDaemonDoesLaunchPod, except the network-unavailable node is Ready.

    Upstream runs without a node lifecycle controller; here it taints a Ready=False node
    ``not-ready:NoSchedule``, which DaemonSet pods rightly do not tolerate (as in a full cluster).
    """
    http = cluster.http
    s = Scenario(cluster, "unschedulable")
    cordoned = node("unschedulable-cordoned", s.selector)
    cordoned["spec"]["unschedulable"] = True
    cordoned["spec"]["taints"] = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    no_network = node(
        "unschedulable-no-network",
        s.selector,
        taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}],
    )
    no_network["status"]["conditions"].append(
        {"type": "NetworkUnavailable", "status": "True", "reason": "NoRoute", "lastHeartbeatTime": now(),
         "lastTransitionTime": now()}
    )  # fmt: skip
    for body in (cordoned, no_network):
        http.post("/api/v1/nodes", body)
    ds = daemonset("hostnet", s.selector)
    ds["spec"]["template"]["spec"]["hostNetwork"] = True
    s.create(ds)
    names = ["unschedulable-cordoned", "unschedulable-no-network"]
    pods = wait_for(lambda: s.running_on("hostnet", names), what="a ready pod on both nodes")
    tolerations = pods[0]["spec"]["tolerations"]
    assert {
        "key": "node.kubernetes.io/network-unavailable",
        "operator": "Exists",
        "effect": "NoSchedule",
    } in tolerations
    wait_for(lambda: s.status_ok("hostnet", 2), what="two ready")


def _zone_tolerations(pod: Obj) -> set[str]:
    return {t["key"] for t in pod["spec"].get("tolerations", []) if t.get("key", "").startswith("zone-")}


def test_rolling_update_follows_changing_tolerations(cluster: Cluster) -> None:
    http = cluster.http
    s = Scenario(cluster, "tolerations")
    zones = ["zone-y", "zone-y", "zone-z", "zone-z", "zone-common", "zone-common"]
    names = [f"tolerations-{i}" for i in range(6)]
    for name, zone in zip(names, zones, strict=True):
        http.post(
            "/api/v1/nodes", node(name, s.selector, taints=[{"key": zone, "value": "true", "effect": "NoSchedule"}])
        )
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    ds = daemonset("tolerant", s.selector, updateStrategy=strategy)

    def tolerate(*keys: str) -> list[Obj]:
        return [{"key": k, "operator": "Equal", "value": "true", "effect": "NoSchedule"} for k in keys]

    def settled(wanted: list[str], keys: set[str]) -> list[Obj] | None:
        pods = s.running_on("tolerant", wanted)
        ds_now = s.ds("tolerant")
        status = ds_now.get("status") or {}
        done = status.get("observedGeneration") == ds_now["metadata"]["generation"]
        done = done and status.get("numberReady", 0) == len(wanted)
        done = done and status.get("updatedNumberScheduled", 0) == len(wanted)
        return pods if pods is not None and done and all(_zone_tolerations(p) == keys for p in pods) else None

    ds["spec"]["template"]["spec"]["tolerations"] = tolerate("zone-y", "zone-common")
    s.create(ds)
    wait_for(lambda: settled([names[0], names[1], names[4], names[5]], {"zone-y", "zone-common"}))

    path = f"{s.ds_path}/tolerant"
    http.patch(path, {"spec": {"template": {"spec": {"tolerations": tolerate("zone-z", "zone-common")}}}})
    wait_for(lambda: settled([names[2], names[3], names[4], names[5]], {"zone-z", "zone-common"}))

    http.patch(path, {"spec": {"template": {"spec": {"tolerations": tolerate("zone-y", "zone-z", "zone-common")}}}})
    wait_for(lambda: settled(names, {"zone-y", "zone-z", "zone-common"}))

    http.patch(path, {"spec": {"template": {"spec": {"tolerations": None}}}})
    wait_for(lambda: settled([], set()) is not None and s.status_ok("tolerant", 0), what="no pods left")


def _owner_ref(ds: Obj) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": ds["metadata"]["name"],
        "uid": ds["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_launch_with_hash_collision(cluster: Cluster) -> None:
    """§7.3 TestLaunchWithHashCollision: a revision squatting on the new template's name forces collisionCount + 1."""
    from miniplane.controllers.daemonset.history import revision_data, revision_hash

    s = Scenario(cluster, "hash-collision", nodes=2)
    s.create(daemonset("hc", s.selector))
    wait_for(lambda: len(s.active_pods("hc")) == 2, what="2 pods")
    ds = s.ds("hc")
    future = json.loads(json.dumps(ds["spec"]["template"]))
    future["spec"]["containers"][0]["image"] = "busybox:2"
    squatter = f"hc-{revision_hash(revision_data(future), ds['status'].get('collisionCount'))}"
    [current] = s.http.items(s.cr_path)
    old_data = current["data"]  # a squatter with the old template's data under the new template's name
    s.http.post(
        s.cr_path,
        {
            "metadata": {"name": squatter, "labels": {"app": "hc"}, "ownerReferences": [_owner_ref(ds)]},
            "data": old_data,
            "revision": 99,
        },
    )
    before = int(ds["status"].get("collisionCount", 0))
    s.http.patch(
        f"{s.ds_path}/hc",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "busybox:2"}]}}}},
        kind="strategic-merge",
    )
    wait_for(lambda: int(s.ds("hc")["status"].get("collisionCount", 0)) == before + 1, what="collisionCount + 1")
    wait_for(
        lambda: sorted(p["spec"]["containers"][0]["image"] for p in s.active_pods("hc")) == ["busybox:2"] * 2,
        timeout=30,
        what="pods with the new template",
    )
    hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in s.active_pods("hc")}
    assert f"hc-{hashes.pop()}" != squatter


def test_pods_relabelled_after_dedup_of_current_revisions(cluster: Cluster) -> None:
    """§7.3 TestDSCUpdatesPodLabelAfterDedupCurHistories: a duplicate current revision with a higher number wins;
    pods take its hash and the other one goes."""
    s = Scenario(cluster, "dedup", nodes=2)
    s.create(daemonset("dd", s.selector))
    wait_for(lambda: len(s.active_pods("dd")) == 2, what="2 pods")
    ds = s.ds("dd")
    [original] = s.http.items(s.cr_path)
    data = original["data"]
    duplicate = "dd-dupl1cate"
    s.http.post(
        s.cr_path,
        {
            "metadata": {
                "name": duplicate,
                "labels": {"app": "dd", "controller-revision-hash": duplicate},
                "ownerReferences": [_owner_ref(ds)],
            },
            "data": data,
            "revision": int(original["revision"]) + 1,
        },
    )
    s.http.post("/api/v1/nodes", node("dedup-extra", s.selector))  # a node event forces a sync
    wait_for(
        lambda: [r["metadata"]["name"] for r in s.http.items(s.cr_path)] == [duplicate],
        timeout=30,
        what="only the duplicate revision left",
    )
    wait_for(
        lambda: (
            {p["metadata"]["labels"].get("controller-revision-hash") for p in s.active_pods("dd")} == {duplicate}
            and len(s.active_pods("dd")) == 3
        ),
        timeout=30,
        what="every pod relabelled to the kept hash",
    )


def _affinity(*terms: Obj) -> Obj:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def test_complex_daemon_with_node_affinity(cluster: Cluster) -> None:
    """§7.1 item 3: required node affinity ``daemonset-color In [blue]`` follows node labels."""
    s = Scenario(cluster, "affinity-color", nodes=2)
    ds = daemonset("color", s.selector)
    ds["spec"]["template"]["spec"]["affinity"] = _affinity(
        {"matchExpressions": [{"key": "daemonset-color", "operator": "In", "values": ["blue"]}]}
    )
    s.create(ds)
    assert s.active_pods("color") == []
    s.http.patch(f"/api/v1/nodes/{s.nodes[0]}", {"metadata": {"labels": {"daemonset-color": "blue"}}})
    wait_for(lambda: [p["spec"].get("nodeName") for p in s.active_pods("color")] == [s.nodes[0]], what="a pod on blue")
    s.http.patch(f"/api/v1/nodes/{s.nodes[0]}", {"metadata": {"labels": {"daemonset-color": None}}})
    wait_for(lambda: s.active_pods("color") == [], what="no pod once the label is gone")


def test_node_affinity_with_ored_terms_and_match_fields(cluster: Cluster) -> None:
    """§7.3 TestDaemonSetWithNodeSelectorLaunchesPods: terms ``zone In [test]`` OR ``metadata.name In [node]``."""
    s = Scenario(cluster, "affinity-terms", nodes=3)
    s.http.patch(f"/api/v1/nodes/{s.nodes[0]}", {"metadata": {"labels": {"zone": "test"}}})
    ds = daemonset("terms", s.selector)
    ds["spec"]["template"]["spec"]["affinity"] = _affinity(
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["test"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [s.nodes[1]]}]},
    )
    s.create(ds)
    wait_for(
        lambda: sorted(p["spec"].get("nodeName", "") for p in s.active_pods("terms")) == sorted(s.nodes[:2]),
        what="pods on the zone node and the named node only",
    )
    wait_for(lambda: s.ds("terms")["status"].get("numberReady") == 2, what="2 ready")
