"""A real mosquitto for tests: configured in a server's data dir (``DATA_DIR/mqtt``) on a free port."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path
from typing import Any

from miniplane.mqtt.broker import BrokerFiles, BrokerProcess, free_port
from tests.cluster import AgentProcess, Server, start_agent


def start_broker(data_dir: Path, port: int = 0) -> BrokerProcess:
    """Write the private broker's files into ``data_dir/mqtt`` and start mosquitto (``port`` 0: a free one)."""
    files = BrokerFiles(data_dir / "mqtt")
    files.prepare(port or free_port())
    broker = BrokerProcess(files)
    broker.start()
    return broker


def broker_url(broker: BrokerProcess) -> str:
    return str(broker.files.address())


def start_mqtt_agent(server: Server, broker: BrokerProcess, name: str, *extra: str, **kwargs: Any) -> AgentProcess:
    """``start_agent`` with ``--transport mqtt`` on ``broker``."""
    return start_agent(server, name, "--transport", "mqtt", "--mqtt-broker", broker_url(broker), *extra, **kwargs)


def node(server: Server, name: str) -> dict[str, Any]:
    """The Node as the API serves it now ({} while there is none)."""
    try:
        with server.urlopen(f"/api/v1/nodes/{name}", timeout=5) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return {}
        raise


def ready(node_object: dict[str, Any]) -> str:
    """The node's Ready status ('' when it has none yet)."""
    conditions = node_object.get("status", {}).get("conditions", [])
    return next((c["status"] for c in conditions if c.get("type") == "Ready"), "")
