"""A private mosquitto: its configuration, password file and ACL in one directory, and its process.

``miniplane up --transport mqtt`` and the tests keep these in ``DATA_DIR/mqtt/``:

- ``mosquitto.conf``: one listener, no anonymous clients, no persistence (nothing the server pushes
  is retained; presence is re-announced on every connection), ``max_queued_messages 0`` (mosquitto
  otherwise drops QoS 0 bursts to a slow subscriber), ``set_tcp_nodelay`` (a will or a pod list
  goes out at once), log to stderr, no privilege drop (the files stay readable).
- ``passwd``: mosquitto's ``$7$`` (PBKDF2-SHA512) hashes, written here without ``mosquitto_passwd``:
  the server's own user and one user per node (name = node name, password = its node credential).
- ``acl``: the server reads and writes ``mp/v1/#``; pattern ACLs let user ``N`` publish only under
  ``mp/v1/node/N/up/`` and read only ``mp/v1/node/N/down/`` and the server's presence.

Adding a node rewrites ``passwd`` and sends the broker SIGHUP (it reloads both files).
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

from miniplane.files import write_private
from miniplane.mqtt import protocol as p

PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$


def password_hash(password: str, salt: bytes | None = None) -> str:
    """A password-file hash mosquitto 2 accepts (``$7$`` = PBKDF2-HMAC-SHA512)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_text() -> str:
    """The ACL file: the server sees everything under mp/v1; a node only its own topics."""
    return (
        "# written by miniplane (docs/mqtt.md)\n"
        f"user {p.SERVER_USER}\n"
        f"topic readwrite {p.ROOT}/#\n"
        "\n"
        f"pattern write {p.ROOT}/node/%u/up/#\n"
        f"pattern read {p.ROOT}/node/%u/down/#\n"
        f"pattern read {p.SERVER_PRESENCE}\n"
    )


class BrokerFiles:
    """The files of a broker whose users miniplane manages."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.conf = directory / "mosquitto.conf"
        self.passwd = directory / "passwd"
        self.acl = directory / "acl"
        self.pid = directory / "mosquitto.pid"
        self.secret = directory / "server-password"
        self.log = directory / "mosquitto.log"

    @classmethod
    def of(cls, data_dir: Path) -> BrokerFiles | None:
        """The private broker configured in a server's data dir, if there is one."""
        files = cls(data_dir / "mqtt")
        return files if files.conf.exists() else None

    def prepare(self, port: int, host: str = "127.0.0.1") -> None:
        """Write the configuration for a listener on ``host:port``; keep users already there."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if not self.secret.exists():
            write_private(self.secret, secrets.token_urlsafe(24))
        write_private(self.acl, acl_text())
        users = self.users()
        users[p.SERVER_USER] = password_hash(self.server_password())
        self._write_users(users)
        write_private(
            self.conf,
            "# written by miniplane (docs/mqtt.md)\n"
            "per_listener_settings false\n"
            f"listener {port} {host}\n"
            "allow_anonymous false\n"
            f"password_file {self.passwd}\n"
            f"acl_file {self.acl}\n"
            "persistence false\n"
            "max_queued_messages 0\n"
            "set_tcp_nodelay true\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"user {getpass.getuser()}\n",
        )

    def server_password(self) -> str:
        return self.secret.read_text().strip()

    def address(self) -> p.BrokerAddress:
        """The listener the configuration names."""
        for line in self.conf.read_text().splitlines():
            if line.startswith("listener "):
                _, port, host = line.split()
                return p.BrokerAddress(host, int(port))
        raise ValueError(f"{self.conf} has no listener")

    def add_node(self, name: str, password: str) -> None:
        """Let node ``name`` connect with ``password``; a running broker reloads its users."""
        users = self.users()
        users[name] = password_hash(password)
        self._write_users(users)
        self.reload()

    def reload(self) -> None:
        """SIGHUP the running broker (it re-reads the password file and the ACL)."""
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(self.pid.read_text()), signal.SIGHUP)

    def users(self) -> dict[str, str]:
        if not self.passwd.exists():
            return {}
        pairs = (line.split(":", 1) for line in self.passwd.read_text().splitlines() if ":" in line)
        return {user: digest for user, digest in pairs}

    def _write_users(self, users: dict[str, str]) -> None:
        write_private(self.passwd, "".join(f"{user}:{digest}\n" for user, digest in sorted(users.items())))


class BrokerProcess:
    """mosquitto in the foreground, logging to ``DIR/mosquitto.log``, its PID in ``DIR/mosquitto.pid``."""

    def __init__(self, files: BrokerFiles) -> None:
        self.files = files
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start it and wait until its listener accepts connections."""
        with open(self.files.log, "ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.files.conf)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        write_private(self.files.pid, str(self.process.pid))
        address = self.files.address()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}; see {self.files.log}")
            try:
                with socket.create_connection((address.host, address.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"mosquitto did not listen on {address} within {timeout:.0f}s") from None
                time.sleep(0.02)

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL) and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.files.pid.unlink(missing_ok=True)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
