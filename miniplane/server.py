"""``miniplane server``: the store, the API, the controllers, and the files other tools read.

Start-up order: data dir, credentials (``DATA_DIR/tls``: CA, serving and admin certificates; the
node-token key), store, built-in namespaces, controllers, HTTPS site; then ``DATA_DIR/kubeconfig``
(CA + admin client certificate) and ``DATA_DIR/node-token`` (``K10<CA hash>::server:<secret>``) are
written and the ready line is logged. ``--insecure-http`` serves plain HTTP with no authentication.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiohttp import web

from miniplane import gcpolicy
from miniplane.api.app import SERVICE, create_app
from miniplane.api.auth import Security
from miniplane.api.limits import WatchLimits
from miniplane.api.node_proxy import HTTPConnector
from miniplane.auth.pki import PKI, default_sans, ensure_pki
from miniplane.auth.tokens import JoinToken, NodeTokens, new_secret, parse_join_token
from miniplane.controllers.manager import ControllerManager
from miniplane.files import write_private
from miniplane.mqtt import serving as mqtt_serving
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
    watch_limits: WatchLimits = WatchLimits()
    tls_sans: tuple[str, ...] = ()
    insecure_http: bool = False
    mqtt_broker: str = ""  # mqtt://HOST:PORT: agents may use MQTT (docs/mqtt.md)
    mqtt_keepalive: int = 10


async def bootstrap(service: ObjectService) -> None:
    """Create the namespaces every cluster has."""
    namespaces = BY_KEY["namespaces"]
    for name in BUILTIN_NAMESPACES:
        try:
            await service.create(namespaces, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        except APIError as err:
            if err.code != 409:
                raise


def write_kubeconfig(path: Path, server_url: str, pki: PKI | None) -> None:
    """An admin kubeconfig (written atomically) that kubectl uses with no other step."""
    cluster: dict[str, str] = {"server": server_url}
    user: dict[str, str] = {}
    if pki is not None:
        cluster["certificate-authority-data"] = _b64(pki.ca_pem)
        user = {"client-certificate-data": _b64(pki.admin_cert_pem), "client-key-data": _b64(pki.admin_key_pem)}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "miniplane", "cluster": cluster}],
        "users": [{"name": "admin", "user": user}],
        "contexts": [{"name": "miniplane", "context": {"cluster": "miniplane", "user": "admin"}}],
        "current-context": "miniplane",
        "preferences": {},
    }
    write_private(path, yaml.safe_dump(config, sort_keys=False))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ensure_join_token(path: Path, ca_hash: str) -> JoinToken:
    """The join token agents present: its secret is created once and kept; its CA hash follows the CA."""
    secret = parse_join_token(path.read_text()).secret if path.exists() else ""
    token = JoinToken(ca_hash, secret or new_secret())
    if not path.exists() or path.read_text().strip() != str(token):
        write_private(path, f"{token}\n")
    return token


def ensure_token_key(path: Path) -> bytes:
    """The key node tokens are derived from; created once and kept."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, os.urandom(32).hex() + "\n")
    return bytes.fromhex(path.read_text().strip())


def serving_context(pki: PKI) -> ssl.SSLContext:
    """TLS for the API: the serving certificate, and client certificates verified against the CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.serving_cert), str(pki.serving_key))
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _url_host(host: str) -> str:
    """The host to put in URLs: a wildcard listen address is reached on loopback."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def run(config: ServerConfig) -> None:
    """Serve until SIGINT or SIGTERM."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    pki = (
        None
        if config.insecure_http
        else ensure_pki(config.data_dir / "tls", default_sans(config.host, config.tls_sans))
    )
    join_token = ensure_join_token(config.data_dir / "node-token", pki.ca_hash if pki else "")
    tokens = NodeTokens(ensure_token_key(config.data_dir / "tls" / "node-token.key"))
    if config.mqtt_broker:
        tokens = mqtt_serving.node_tokens(tokens, config.data_dir)
    security = Security(tokens, join_token.secret, pki.ca_pem if pki else b"", enabled=pki is not None)
    store = DurableStore(
        config.data_dir / "store", history_size=config.watch_history, watch_queue_size=config.watch_limits.queue_size
    )
    connector = HTTPConnector(tokens)
    app = create_app(store, connector, security, config.watch_limits)
    service = app[SERVICE]
    await bootstrap(service)
    openapi.openapi_index()  # build the OpenAPI documents now rather than on kubectl's first request
    gcpolicy.configure_for_server()
    controllers = ControllerManager(
        service,
        node_monitor_grace_period=config.node_monitor_grace_period,
        node_startup_grace_period=config.node_startup_grace_period,
        pod_gc_quarantine=config.pod_gc_quarantine,
    )
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    context = serving_context(pki) if pki else None
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else config.port
    url = f"{'https' if pki else 'http'}://{_url_host(config.host)}:{port}"
    write_kubeconfig(config.data_dir / "kubeconfig", url, pki)
    if pki is None:
        log.warning(
            "INSECURE: --insecure-http serves plain HTTP with NO authentication: anyone who can reach %s "
            "controls this cluster. Use it for local experiments only.",
            url,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("miniplane server ready at %s (kubeconfig: %s)", url, config.data_dir / "kubeconfig")
    try:
        mqtt = mqtt_serving.bridge_running(
            service, config.mqtt_broker, config.data_dir, config.mqtt_keepalive, connector
        )
        async with controllers.running(), mqtt:
            await stop.wait()
    finally:
        log.info("miniplane server stopping")
        await store.close()
        await runner.cleanup()
        await connector.close()
