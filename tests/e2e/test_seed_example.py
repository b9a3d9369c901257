"""End to end: a real server, real agents running real processes, the real kubectl.

The seed example (configs/log-collector-daemonset.yaml) on three agents; a fourth joins; an agent
dies and comes back; a node is deleted; a rolling update replaces processes one node at a time;
deleting the DaemonSet stops every process. Tests run in file order on one cluster.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import REPO, AgentProcess, Server, start_agent, start_server, wait_for

SEED = REPO / "configs" / "log-collector-daemonset.yaml"
GRACE = "3s"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, AgentProcess]]]:
    server = start_server(tmp_path_factory.mktemp("e2e"), "--node-monitor-grace-period", GRACE)
    agents = {name: start_agent(server, name) for name in ("node-1", "node-2", "node-3")}
    try:
        yield server, agents
    finally:
        for agent in agents.values():
            agent.stop()
        server.stop()


def _json(server: Server, *args: str) -> dict:
    return json.loads(server.kubectl(*args, "-o", "json", check=True).stdout)


def _pods(server: Server) -> list[dict]:
    return _json(server, "get", "pods", "-l", "app=log-collector")["items"]


def _running_by_node(server: Server) -> dict[str, dict]:
    out = {}
    for pod in _pods(server):
        if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
            out[pod["spec"]["nodeName"]] = pod
    return out


def _pids(marker: str) -> set[int]:
    """PIDs of the top processes whose command line contains ``marker`` (not their short-lived forks)."""
    found: dict[int, int] = {}  # pid -> parent pid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if marker in cmdline and "pytest" not in cmdline:
                found[int(entry.name)] = parent
    return {pid for pid, parent in found.items() if parent not in found}


def _ds_status(server: Server) -> dict:
    return _json(server, "get", "ds", "simple-log-collector")["status"]


def test_seed_runs_one_process_per_node(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    server, agents = cluster
    wait_for(
        lambda: (
            len(
                [
                    n
                    for n in _json(server, "get", "nodes")["items"]
                    if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
                ]
            )
            == 3
        ),
        what="3 Ready nodes",
    )
    out = server.kubectl("apply", "-f", str(SEED), check=True)
    assert out.stdout.strip() == "daemonset.apps/simple-log-collector created"
    wait_for(lambda: len(_running_by_node(server)) == 3, timeout=60, what="3 running pods")
    wait_for(lambda: _ds_status(server).get("numberAvailable") == 3, what="3 available")
    row = server.kubectl("get", "ds", check=True).stdout.splitlines()[1].split()
    assert row[:6] == ["simple-log-collector", "3", "3", "3", "3", "3"]
    wide = server.kubectl("get", "pods", "-l", "app=log-collector", "-o", "wide", check=True).stdout.splitlines()[1:]
    assert sorted(line.split()[6] for line in wide) == ["node-1", "node-2", "node-3"]
    assert all(line.split()[2] == "Running" for line in wide)
    for pod in _pods(server):
        name = pod["metadata"]["name"]
        logs = wait_for(lambda n=name: server.kubectl("logs", n).stdout, what=f"logs of {name}")
        assert f"Log message from {name}" in logs
    assert len(_pids("Log message from")) >= 3


def test_exec_returns_exit_code(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    server, _ = cluster
    pod = _pods(server)[0]["metadata"]["name"]
    ok = server.kubectl("exec", pod, "--", "sh", "-c", "echo inside $(hostname)")
    assert ok.returncode == 0 and ok.stdout.strip() == f"inside {pod}"
    failed = server.kubectl("exec", pod, "--", "sh", "-c", "exit 7")
    assert failed.returncode == 7
    assert "command terminated with exit code 7" in failed.stderr


def test_agent_endpoint_answers_only_its_own_credential(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    """The logs/exec endpoint takes the node's own token (which the server derives), nothing else."""
    server, agents = cluster
    pod = _running_by_node(server)["node-1"]
    port = _json(server, "get", "node", "node-1")["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    url = f"http://127.0.0.1:{port}/containerLogs/default/{pod['metadata']['name']}/log-collector"

    def status(token: str) -> int:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as err:
            return err.code

    own, other = (
        json.loads((agents[n].root / "credentials" / "node.json").read_text())["token"] for n in ("node-1", "node-2")
    )
    join_token = (server.data_dir / "node-token").read_text().strip()
    assert [status(t) for t in ("", join_token, other)] == [401, 401, 401]
    assert status(own) == 200


def test_fourth_agent_gets_a_pod(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    server, agents = cluster
    agents["node-4"] = start_agent(server, "node-4")
    wait_for(lambda: "node-4" in _running_by_node(server), timeout=60, what="a pod on node-4")
    wait_for(lambda: _ds_status(server).get("numberReady") == 4, what="4 ready")


def test_killed_agent_goes_unknown_and_recovers(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    server, agents = cluster
    victim = agents["node-4"]
    pod_before = _running_by_node(server)["node-4"]["metadata"]["uid"]
    victim.stop(kill=True)

    def ready_status() -> str:
        node = _json(server, "get", "node", "node-4")
        return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")

    wait_for(lambda: ready_status() == "Unknown", timeout=30, what="node-4 Ready=Unknown")
    node = _json(server, "get", "node", "node-4")
    assert {"node.kubernetes.io/unreachable"} <= {t["key"] for t in node["spec"].get("taints", [])}
    status = wait_for(lambda: (s := _ds_status(server)).get("numberMisscheduled") == 1 and s, what="misscheduled 1")
    assert status["desiredNumberScheduled"] == 3
    pods = {p["spec"]["nodeName"]: p for p in _pods(server)}
    assert pods["node-4"]["metadata"]["uid"] == pod_before  # still bound, never evicted

    agents["node-4"] = start_agent(server, "node-4", root=victim.root)
    wait_for(lambda: ready_status() == "True", timeout=30, what="node-4 Ready again")
    wait_for(
        lambda: (s := _ds_status(server)).get("numberReady") == 4 and s.get("numberMisscheduled") == 0,
        timeout=30,
        what="DaemonSet recovered",
    )
    assert _running_by_node(server)["node-4"]["metadata"]["uid"] == pod_before


def test_deleted_node_loses_its_pod(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    server, agents = cluster
    agents.pop("node-4").stop()
    server.kubectl("delete", "node", "node-4", check=True)
    wait_for(
        lambda: "node-4" not in {p["spec"].get("nodeName") for p in _pods(server)}, timeout=60, what="node-4's pod gone"
    )
    wait_for(lambda: _ds_status(server).get("desiredNumberScheduled") == 3, what="3 desired")


def test_rolling_update_replaces_processes_one_node_at_a_time(
    cluster: tuple[Server, dict[str, AgentProcess]], tmp_path: Path
) -> None:
    server, _ = cluster
    old = _pids("Log message from")
    samples: list[set[int]] = []
    done = threading.Event()

    def sample() -> None:  # which processes run, every 20 ms, while the rollout goes on
        while not done.is_set():
            samples.append(_pids("Log message from"))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    edited = tmp_path / "ds.yaml"
    edited.write_text(SEED.read_text().replace("sleep 5", "sleep 4"))
    try:
        assert server.kubectl("apply", "-f", str(edited), check=True).stdout.strip().endswith("configured")
        status = server.kubectl("rollout", "status", "ds/simple-log-collector", "--timeout=120s", timeout=150)
    finally:
        done.set()
        sampler.join()
    assert status.returncode == 0, status.stderr
    assert 'daemon set "simple-log-collector" successfully rolled out' in status.stdout
    assert (
        status.stdout.count("of 3 updated pods are available") + status.stdout.count("new pods have been updated") >= 1
    )
    new = _pids("Log message from")
    assert len(new) >= 3 and not (old & new), "every old process replaced"
    # One node at a time (maxUnavailable 1, maxSurge 0): never fewer than 2 old-or-new processes, and the
    # old ones go away one by one.
    assert min(len(s) for s in samples) >= 2
    remaining_old = [len(s & old) for s in samples]
    assert sorted(set(remaining_old), reverse=True)[:4] == [3, 2, 1, 0]
    for pod in _pods(server):
        assert "sleep 4" in pod["spec"]["containers"][0]["args"][2]


def test_deleting_the_daemonset_stops_every_process(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    server, _ = cluster
    before = _pids("Log message from")
    assert before
    server.kubectl("delete", "ds", "simple-log-collector", check=True)
    wait_for(lambda: not _pids("Log message from"), timeout=60, what="every process gone")
    for pid in before:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    wait_for(lambda: not _pods(server), timeout=30, what="pod objects gone")


def test_server_restart_disturbs_no_process(cluster: tuple[Server, dict[str, AgentProcess]]) -> None:
    server, _ = cluster
    server.kubectl("apply", "-f", str(SEED), check=True)
    wait_for(lambda: len(_running_by_node(server)) == 3, timeout=60, what="3 running pods")
    pids = _pids("Log message from")
    uids = {p["metadata"]["uid"] for p in _pods(server)}
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    restarted = start_server(
        server.data_dir, "--node-monitor-grace-period", GRACE, "--port", server.url.rsplit(":", 1)[1]
    )
    server.process, server.url = restarted.process, restarted.url
    wait_for(lambda: _ds_status(server).get("numberReady") == 3, timeout=30, what="ready after restart")
    assert _pids("Log message from") == pids
    assert {p["metadata"]["uid"] for p in _pods(server)} == uids
