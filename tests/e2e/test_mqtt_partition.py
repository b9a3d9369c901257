"""A silent network cut (no FIN, no RST) between an MQTT agent and the broker, with network namespaces.

The agent runs in its own network namespace, joined to the root namespace by a veth pair on a
bridge; the broker and the server listen on the bridge's address. ``iptables DROP`` inside the
namespace cuts the link silently; the broker notices after 1.5 × the agent's keepalive and
publishes its will, and the node must be Unknown within 1.5 × keepalive + 1 s. Needs root (the
suite runs as root); on a host that cannot create namespaces the test is skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from miniplane.mqtt.broker import BrokerFiles, BrokerProcess, free_port
from tests.cluster import REPO, AgentProcess, Server, start_server, wait_for
from tests.mqtt_broker import node, ready

KEEPALIVE = 2  # seconds


@dataclass
class Namespace:
    name: str
    bridge: str
    veth: str
    host_ip: str  # the root namespace's address on the bridge
    ip: str

    def run(self, *argv: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, *argv], check=True, capture_output=True)

    def cut(self) -> None:
        """Drop everything in and out of the namespace's link, silently."""
        self.run("iptables", "-A", "INPUT", "-i", "eth0", "-j", "DROP")
        self.run("iptables", "-A", "OUTPUT", "-o", "eth0", "-j", "DROP")

    def heal(self) -> None:
        self.run("iptables", "-F")


def _ip(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], capture_output=True, text=True)


@pytest.fixture(scope="module")
def netns() -> Iterator[Namespace]:
    tag = f"mq{os.getpid() % 100000}"
    subnet = f"10.77.{os.getpid() % 250}"
    ns = Namespace(f"{tag}-n1", f"br-{tag}", f"v-{tag}", f"{subnet}.1", f"{subnet}.11")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    made = _ip("netns", "add", ns.name)
    if made.returncode != 0:
        pytest.skip(f"this host cannot create network namespaces: {made.stderr.strip()}")
    steps = [
        ("link", "add", ns.bridge, "type", "bridge"),
        ("addr", "add", f"{ns.host_ip}/24", "dev", ns.bridge),
        ("link", "set", ns.bridge, "up"),
        ("route", "add", "unreachable", f"{subnet}.0/24", "metric", "4000"),
        ("link", "add", ns.veth, "type", "veth", "peer", "name", "eth0", "netns", ns.name),
        ("link", "set", ns.veth, "master", ns.bridge),
        ("link", "set", ns.veth, "up"),
        ("-n", ns.name, "addr", "add", f"{ns.ip}/24", "dev", "eth0"),
        ("-n", ns.name, "link", "set", "lo", "up"),
        ("-n", ns.name, "link", "set", "eth0", "up"),
    ]
    try:
        for step in steps:
            result = _ip(*step)
            assert result.returncode == 0, f"ip {' '.join(step)}: {result.stderr}"
        yield ns
    finally:
        _ip("link", "del", ns.veth)
        _ip("netns", "del", ns.name)
        _ip("link", "del", ns.bridge)
        _ip("route", "del", "unreachable", f"{subnet}.0/24", "metric", "4000")


def _agent_in(ns: Namespace, server: Server, broker: str, name: str) -> AgentProcess:
    root = server.data_dir / "agents" / name
    root.mkdir(parents=True, exist_ok=True)
    log_path = root.parent / f"{name}.log"
    server_url = server.url.replace("127.0.0.1", ns.host_ip)
    argv = [sys.executable, "-m", "miniplane.cli", "agent", "--server", server_url, "--name", name]
    argv += ["--token-file", str(server.data_dir / "node-token"), "--root", str(root), "--heartbeat-interval", "1s"]
    argv += ["--node-ip", ns.ip, "--listen", "127.0.0.1", "--transport", "mqtt", "--mqtt-broker", broker]
    argv += ["--mqtt-keepalive", f"{KEEPALIVE}s"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, *argv], stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
    return AgentProcess(name, root, process, log_path)


def test_a_silent_cut_is_detected_within_one_and_a_half_keepalives(netns: Namespace, tmp_path: Path) -> None:
    files = BrokerFiles(tmp_path / "mqtt")
    files.prepare(free_port(), host=netns.host_ip)
    broker = BrokerProcess(files)
    broker.start()
    server = start_server(
        tmp_path,
        "--host",
        "0.0.0.0",
        "--tls-san",
        netns.host_ip,
        "--mqtt-broker",
        str(files.address()),
        "--node-monitor-grace-period",
        "60s",
    )
    agent = _agent_in(netns, server, str(files.address()), "cut-1")
    try:
        wait_for(lambda: ready(node(server, "cut-1")) == "True", timeout=60, what="cut-1 Ready")
        time.sleep(1.5)
        started = time.monotonic()
        netns.cut()
        wait_for(lambda: ready(node(server, "cut-1")) == "Unknown", timeout=30, interval=0.05, what="cut-1 Unknown")
        elapsed = time.monotonic() - started
        budget = 1.5 * KEEPALIVE + 1.0
        print(
            f"\nsilent cut (iptables DROP) -> Unknown after {elapsed:.2f} s "
            f"(keepalive {KEEPALIVE} s, budget {budget} s)"
        )
        assert elapsed <= budget
        netns.heal()
        wait_for(lambda: ready(node(server, "cut-1")) == "True", timeout=30, what="cut-1 Ready after healing")
    finally:
        netns.heal()
        agent.stop()
        server.stop()
        broker.stop()
