"""``miniplane up --transport mqtt``: a private mosquitto in the data dir, agents on it, all stopped together."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from miniplane.mqtt.broker import free_port
from tests.cluster import REPO, wait_for


def _processes_using(path: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(path) in cmdline:
                found.append(cmdline)
    return found


def test_up_with_mqtt_runs_agents_through_a_private_broker(tmp_path: Path) -> None:
    data = tmp_path / "cluster"
    out = tmp_path / "up.out"
    with open(out, "wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "miniplane.cli", "up", "--agents", "2", "--transport", "mqtt"]
            + ["--data-dir", str(data), "--port", str(free_port()), "--heartbeat-interval", "1s"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        wait_for(lambda: "miniplane is up" in out.read_text(), timeout=90, what="the banner")
        assert (data / "mqtt" / "mosquitto.conf").exists() and "node-1:" in (data / "mqtt" / "passwd").read_text()
        kubectl = [sys.executable, "-m", "miniplane.cli", "kubectl", "--data-dir", str(data)]
        nodes = json.loads(
            subprocess.run([*kubectl, "get", "nodes", "-o", "json"], capture_output=True, check=True).stdout
        )
        assert sorted(n["metadata"]["name"] for n in nodes["items"]) == ["node-1", "node-2"]
        for name in ("node-1", "node-2"):
            assert "connected to the MQTT broker" in (data / "logs" / f"{name}.log").read_text()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
    assert code == 0
    time.sleep(0.5)
    assert not _processes_using(data), "up left processes behind"
