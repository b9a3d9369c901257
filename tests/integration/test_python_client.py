"""The official ``kubernetes`` Python client (strict pydantic models) against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.cluster import REPO, Server, start_server


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[client.ApiClient]:
    with client.ApiClient(config.new_client_from_config(str(server.kubeconfig)).configuration) as api_client:
        yield api_client


def _seed(name: str) -> dict:
    ds = yaml.safe_load((REPO / "configs" / "log-collector-daemonset.yaml").read_text())
    ds["metadata"]["name"] = name
    return ds


def test_daemonset_crud_and_watch(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_daemon_set("default", _seed("py-ds"))
    assert created.metadata.uid and created.metadata.generation == 1
    assert created.spec.update_strategy.rolling_update.max_unavailable == 1
    listed = apps.list_namespaced_daemon_set("default")
    assert "py-ds" in [d.metadata.name for d in listed.items]
    rv = listed.metadata.resource_version

    patched = apps.patch_namespaced_daemon_set(
        "py-ds",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "log-collector", "image": "busybox:2"}]}}}},
    )
    container = patched.spec.template.spec.containers[0]
    assert container.image == "busybox:2" and container.args  # merged by name, args kept
    assert patched.metadata.generation == 2

    events = []
    for event in watch.Watch().stream(
        apps.list_namespaced_daemon_set, "default", resource_version=rv, timeout_seconds=2
    ):
        events.append((event["type"], event["object"].metadata.name))
    assert ("MODIFIED", "py-ds") in events

    status = apps.delete_namespaced_daemon_set("py-ds", "default")
    assert status is not None
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_daemon_set("py-ds", "default")
    assert err.value.status == 404


def test_nodes_pods_leases(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    node = core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "py-node"}})
    assert node.metadata.name == "py-node"
    core.patch_node("py-node", {"metadata": {"labels": {"zone": "a"}}})
    assert core.read_node("py-node").metadata.labels == {"zone": "a"}
    assert "py-node" in [n.metadata.name for n in core.list_node(label_selector="zone=a").items]

    pod = core.create_namespaced_pod(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "py-pod", "labels": {"app": "py"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    assert pod.spec.restart_policy == "Always"
    pods = core.list_namespaced_pod("default", label_selector="app=py")
    assert [p.metadata.name for p in pods.items] == ["py-pod"]
    core.patch_namespaced_pod_status("py-pod", "default", {"status": {"phase": "Running"}})
    assert core.read_namespaced_pod("py-pod", "default").status.phase == "Running"
    core.delete_namespaced_pod("py-pod", "default")

    coordination = client.CoordinationV1Api(api)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = coordination.create_namespaced_lease(
        "kube-node-lease",
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "py-node"},
            "spec": {"holderIdentity": "py-node", "leaseDurationSeconds": 40, "renewTime": now},
        },
    )
    assert lease.spec.lease_duration_seconds == 40
    renewed = coordination.patch_namespaced_lease("py-node", "kube-node-lease", {"spec": {"renewTime": now}})
    assert renewed.spec.holder_identity == "py-node"
    assert [x.metadata.name for x in coordination.list_namespaced_lease("kube-node-lease").items] == ["py-node"]
    core.delete_node("py-node")


def test_watch_gone_raises_api_exception_410(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "srv", "--watch-history", "2")
    try:
        with client.ApiClient(config.new_client_from_config(str(srv.kubeconfig)).configuration) as api_client:
            core = client.CoreV1Api(api_client)
            for i in range(4):
                core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"n{i}"}})
            with pytest.raises(ApiException) as err:
                for _ in watch.Watch().stream(core.list_namespace, resource_version="1", timeout_seconds=2):
                    pass
            assert err.value.status == 410
    finally:
        srv.stop()


def test_legacy_discovery_for_dynamic_client(api: client.ApiClient) -> None:
    from kubernetes.dynamic import DynamicClient

    dyn = DynamicClient(api)
    ds_api = dyn.resources.get(api_version="apps/v1", kind="DaemonSet")
    assert ds_api.namespaced
    assert dyn.resources.get(api_version="v1", kind="Node").name == "nodes"
