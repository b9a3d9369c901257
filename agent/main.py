"""``miniplane agent``: join the cluster as a node and run the pods bound to it.

Start-up: adopt the containers a previous run left (the runtime's shims keep them alive), trade
the join token for this node's credential (``miniplane.wire.join``), start the logs/exec endpoint
(which only the server, presenting that credential, may call), register the Node, then run
concurrently: Lease renewals every heartbeat interval, Node status on change (or every 30
intervals, Kubernetes' 10 s / 5 min), the pod watch feeding the sync loop, and the sync loop itself.
SIGTERM/SIGINT stop every pod gracefully, then the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from agent.endpoint import Endpoint
from agent.env import PodContext
from agent.loop import SyncLoop
from agent.mqtt.transport import MQTTTransport
from agent.node import NodeConfig, node_object, node_status
from agent.restarts import BackoffPolicy
from agent.runtime.process import ProcessRuntime
from agent.transport import HTTPTransport, Transport, retrying
from miniplane.mqtt.protocol import BrokerAddress
from miniplane.wire.client import APIError
from miniplane.wire.join import join

log = logging.getLogger("miniplane.agent")

STATUS_REPORT_EVERY = 30  # heartbeats: 10 s x 30 = Kubernetes' 5 min nodeStatusReportFrequency


@dataclass(frozen=True, slots=True)
class AgentConfig:
    server: str
    token: str  # the cluster's join token, traded for this node's own credential
    node: NodeConfig
    root: Path
    heartbeat_interval: float = 10.0
    backoff: BackoffPolicy = BackoffPolicy()
    stop_grace: float = 30.0
    transport: str = "http"  # or "mqtt" (agent/mqtt/, docs/mqtt.md)
    mqtt_broker: str = ""
    mqtt_keepalive: int = 10


def _without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    """The status fields the agent owns, without heartbeat and transition times."""
    conditions = sorted((c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions", []))
    owned = {k: status.get(k) for k in ("capacity", "allocatable", "addresses", "daemonEndpoints", "nodeInfo")}
    return {**owned, "conditions": conditions}


class Agent:
    """One node: its runtime, endpoint, transport and sync loop."""

    def __init__(self, config: AgentConfig, runtime: ProcessRuntime, transport: Transport, port: int) -> None:
        self.config = config
        self.runtime = runtime
        self.transport = transport
        self.node = dataclasses.replace(config.node, port=port)
        self.loop = SyncLoop(
            runtime, PodContext(config.node.name, config.node.address), transport, policy=config.backoff
        )
        self.pods: dict[tuple[str, str], str] = {}

    def lookup(self, namespace: str, name: str) -> str | None:
        return self.pods.get((namespace, name))

    async def heartbeat(self, node_uid: str) -> None:
        """Renew the Lease every interval; post Node status when the server's copy differs from ours
        (the node controller may have marked it Unknown) or every ``STATUS_REPORT_EVERY`` beats."""
        previous: list[dict[str, Any]] | None = None
        beats = 0
        while True:
            try:
                await self.transport.renew_lease(node_uid)
                status = node_status(self.node, previous)
                previous = status["conditions"]
                server = await self.transport.get_node()
                stale = _without_heartbeats(server.get("status", {})) != _without_heartbeats(status)
                if stale or beats % STATUS_REPORT_EVERY == 0:
                    await self.transport.node_status(status)
                beats += 1
            except APIError as err:
                if err.status == 404:  # the Node was deleted: register again
                    node_uid = await self.transport.register(node_object(self.node))
                    continue
                log.warning("heartbeat failed: %s", err)
            except Exception as err:  # keep beating whatever happens; the server may come back
                log.warning("heartbeat failed: %s", err or type(err).__name__)
            await asyncio.sleep(self.config.heartbeat_interval)

    async def watch_pods(self) -> None:
        async for pods in self.transport.pods():
            self.pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p["metadata"]["uid"] for p in pods}
            self.loop.set_desired(pods)

    async def run(self, stop: asyncio.Event) -> None:
        node_uid = await self.transport.register(node_object(self.node))
        log.info("node %s registered; agent running", self.node.name)
        tasks = [
            asyncio.create_task(self.heartbeat(node_uid)),
            asyncio.create_task(self.watch_pods()),
            asyncio.create_task(self.loop.run()),
        ]
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done() and task.exception():
                log.error("agent task failed", exc_info=task.exception())
            task.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)


async def run_agent(config: AgentConfig, listen_host: str = "0.0.0.0", port: int = 0) -> None:
    """Run until SIGTERM/SIGINT; then stop every pod gracefully."""
    config.root.mkdir(parents=True, exist_ok=True)
    runtime = await ProcessRuntime.create(config.root, PodContext(config.node.name, config.node.address))
    report = await runtime.adopt()
    log.info("adopted containers from a previous run: %s", report)
    for warning in runtime.features.warnings():
        log.warning("%s", warning)
    credentials = await retrying(
        "joining the cluster", join, config.server, config.token, config.node.name, config.root
    )
    agent: Agent | None = None
    endpoint = Endpoint(runtime, lambda ns, name: agent.lookup(ns, name) if agent else None, credentials.token)
    runner = web.AppRunner(endpoint.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, listen_host, port)
    await site.start()
    bound = runner.addresses[0][1]
    client = credentials.client()
    transport: Transport = HTTPTransport(client, config.node.name)
    if config.transport == "mqtt":
        local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(listen_host, listen_host)
        transport = MQTTTransport(
            BrokerAddress.parse(config.mqtt_broker),
            config.node.name,
            credentials.token,
            keepalive=config.mqtt_keepalive,
            endpoint=f"http://{local}:{bound}",
            endpoint_token=credentials.token,
        )
    agent = Agent(config, runtime, transport, bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.run(stop)
    finally:
        log.info("agent stopping: stopping its pods")
        with contextlib.suppress(Exception):
            await runtime.stop_all(config.stop_grace)
        if isinstance(transport, MQTTTransport):
            await transport.close()  # a goodbye: a clean stop is not a lost connection
        await runtime.close()
        await runner.cleanup()
        await client.close()
