"""The MQTT wire contract, version 1: topic names, QoS per message kind, payload encoding (pure).

Every topic starts with ``mp/v1``. A node's topics live under ``mp/v1/node/<name>/``: the agent
writes under ``up/`` and reads under ``down/``; the broker's ACL lets user ``<name>`` do exactly
that, so the node name in a topic is an authenticated identity. Payloads are msgpack maps;
Kubernetes objects inside them travel as the compact JSON bytes the store keeps (no re-encoding).
docs/mqtt.md explains each message and why it has its QoS.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import msgpack

VERSION = "v1"
ROOT = f"mp/{VERSION}"
SERVER_PRESENCE = f"{ROOT}/server/presence"
SERVER_USER = "miniplane-server"

# Agent → server, under mp/v1/node/<name>/up/
PRESENCE = "presence"  # retained; also the last will
REGISTER = "register"
LEASE = "lease"
PING = "ping"  # sent when nothing else went out for half a keepalive (the bridge's silence watchdog)
NODE_STATUS = "node-status"
POD_STATUS = "pod-status"
EVENT = "event"
STREAM = "stream"  # stream/<id>: logs and exec frames
# Server → agent, under mp/v1/node/<name>/down/
NODE = "node"
PODS = "pods"
REPLY = "reply"

QOS = {
    PRESENCE: 1,
    REGISTER: 1,
    LEASE: 0,
    PING: 0,
    NODE_STATUS: 1,
    POD_STATUS: 1,
    EVENT: 0,
    STREAM: 1,
    NODE: 1,
    PODS: 1,
    REPLY: 1,
}

# Small messages must go out at once (paho leaves Nagle on): last wills, heartbeats, QoS 1 round trips.
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)

# Presence states
ONLINE, LOST, GOODBYE, OFFLINE = "online", "lost", "goodbye", "offline"


def client(
    broker: BrokerAddress,
    username: str | None,
    password: str | None,
    identifier: str,
    will: aiomqtt.Will,
    keepalive: int,
) -> aiomqtt.Client:
    """A connection as both sides open one: a clean session, a will, TCP_NODELAY (paho leaves it off)."""
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=username,
        password=password,
        identifier=identifier,
        will=will,
        clean_session=True,
        keepalive=keepalive,
        timeout=10,
        socket_options=NO_DELAY,
    )


def up(node: str, kind: str, *rest: str) -> str:
    """A topic the agent of ``node`` publishes on."""
    return "/".join((ROOT, "node", node, "up", kind, *rest))


def down(node: str, kind: str, *rest: str) -> str:
    """A topic the server publishes on for ``node``."""
    return "/".join((ROOT, "node", node, "down", kind, *rest))


UP_FILTER = f"{ROOT}/node/+/up/#"


def down_filter(node: str) -> str:
    """Everything the server sends one node."""
    return f"{ROOT}/node/{node}/down/#"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message came from: node, direction (``up``/``down``), kind, and the rest (a stream id)."""

    node: str
    direction: str
    kind: str
    rest: tuple[str, ...] = ()


def parse(topic: str) -> Route | None:
    """The route of a node topic, or None for anything else."""
    parts = topic.split("/")
    if len(parts) < 6 or "/".join(parts[:3]) != f"{ROOT}/node" or parts[4] not in ("up", "down"):
        return None
    return Route(parts[3], parts[4], parts[5], tuple(parts[6:]))


def encode(message: dict[str, Any]) -> bytes:
    """A message's payload."""
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def decode(payload: bytes | bytearray) -> dict[str, Any]:
    """A payload's message; raises ValueError unless it is a msgpack map."""
    try:
        message = msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException) as err:
        raise ValueError(f"not a msgpack message: {err}") from None
    if not isinstance(message, dict):
        raise ValueError("a message must be a map")
    return message


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """``mqtt://[user[:password]@]host[:port]``."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Raises ValueError on anything but an ``mqtt://`` URL with a host."""
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"{url!r} is not an mqtt://HOST[:PORT] URL")
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, parts.port or 1883, user, password)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"
