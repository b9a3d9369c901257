"""``miniplane server``: the store, the API, the controllers, and the files other tools read.

Start-up order: data dir, store, built-in namespaces, controllers, HTTP site; then
``DATA_DIR/kubeconfig`` and ``DATA_DIR/node-token`` are written and the ready line is logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiohttp import web

from miniplane.api.app import SERVICE, create_app
from miniplane.api.node_proxy import HTTPConnector
from miniplane.controllers.manager import ControllerManager
from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.schema import openapi
from miniplane.store.durable import DurableStore

log = logging.getLogger("miniplane.server")

BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 6443
    data_dir: Path = Path.home() / ".miniplane"
    node_monitor_grace_period: float = 50.0
    node_startup_grace_period: float = 60.0
    pod_gc_quarantine: float = 10.0
    watch_history: int = 20_000


async def bootstrap(service: ObjectService) -> None:
    """Create the namespaces every cluster has."""
    namespaces = BY_KEY["namespaces"]
    for name in BUILTIN_NAMESPACES:
        try:
            await service.create(namespaces, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        except APIError as err:
            if err.code != 409:
                raise


def write_kubeconfig(path: Path, server_url: str) -> None:
    """An admin kubeconfig (written atomically) that kubectl uses with no other step."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "miniplane", "cluster": {"server": server_url}}],
        "users": [{"name": "admin", "user": {}}],
        "contexts": [{"name": "miniplane", "context": {"cluster": "miniplane", "user": "admin"}}],
        "current-context": "miniplane",
        "preferences": {},
    }
    _write_private(path, yaml.safe_dump(config, sort_keys=False))


def ensure_node_token(path: Path) -> str:
    """The join token agents present; created once and kept."""
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_hex(24)
    _write_private(path, token + "\n")
    return token


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def run(config: ServerConfig) -> None:
    """Serve until SIGINT or SIGTERM."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = DurableStore(config.data_dir / "store", history_size=config.watch_history)
    token = ensure_node_token(config.data_dir / "node-token")
    connector = HTTPConnector(token)
    app = create_app(store, connector)
    service = app[SERVICE]
    await bootstrap(service)
    openapi.openapi_index()  # build the OpenAPI documents now rather than on kubectl's first request
    controllers = ControllerManager(
        service,
        node_monitor_grace_period=config.node_monitor_grace_period,
        node_startup_grace_period=config.node_startup_grace_period,
        pod_gc_quarantine=config.pod_gc_quarantine,
    )
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else config.port
    url = f"http://{config.host}:{port}"
    write_kubeconfig(config.data_dir / "kubeconfig", url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("miniplane server ready at %s (kubeconfig: %s)", url, config.data_dir / "kubeconfig")
    try:
        async with controllers.running():
            await stop.wait()
    finally:
        log.info("miniplane server stopping")
        await store.close()
        await runner.cleanup()
        await connector.close()
