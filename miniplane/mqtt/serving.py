"""What ``miniplane server --mqtt-broker URL`` adds: the bridge's lifetime and the private broker's users.

With a private broker configured in ``DATA_DIR/mqtt/`` (``miniplane up --transport mqtt``, the
tests), the server connects as its own broker user, and every node token it issues (at join) also
becomes that node's broker password: ``BrokerNodeTokens``. With any other broker, the URL carries
the server's credentials (``mqtt://user:password@host:port``) and node users are the operator's
business (docs/mqtt.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from miniplane.api.node_proxy import HTTPConnector
from miniplane.auth.tokens import NodeTokens
from miniplane.mqtt import protocol as p
from miniplane.mqtt.bridge import Bridge
from miniplane.mqtt.broker import BrokerFiles
from miniplane.objects.service import ObjectService

log = logging.getLogger(__name__)


class BrokerNodeTokens(NodeTokens):
    """Node tokens that are also broker passwords: issuing one adds the node's broker user."""

    def __init__(self, tokens: NodeTokens, files: BrokerFiles) -> None:
        self._tokens = tokens
        self._files = files
        self._known = set(files.users())

    def issue(self, node: str) -> str:
        token = self._tokens.issue(node)
        if node not in self._known:
            self._files.add_node(node, token)
            self._known.add(node)
        return token

    def verify(self, token: str) -> str | None:
        return self._tokens.verify(token)


def node_tokens(tokens: NodeTokens, data_dir: Path) -> NodeTokens:
    """``tokens``, issuing broker users too when the data dir holds a private broker."""
    files = BrokerFiles.of(data_dir)
    return tokens if files is None else BrokerNodeTokens(tokens, files)


@contextlib.asynccontextmanager
async def bridge_running(
    service: ObjectService, url: str, data_dir: Path, keepalive: int, connector: HTTPConnector
) -> AsyncIterator[Bridge | None]:
    """Run the bridge (when ``url`` is set) and route logs/exec of MQTT nodes through it."""
    if not url:
        yield None
        return
    broker = p.BrokerAddress.parse(url)
    username, password = broker.username, broker.password
    files = BrokerFiles.of(data_dir)
    if files is not None and username is None:
        username, password = p.SERVER_USER, files.server_password()
    bridge = Bridge(service, broker, username=username, password=password, keepalive=keepalive)
    connector.relay = bridge.relay
    task = asyncio.create_task(bridge.run())
    log.info("MQTT bridge to %s started", broker)
    try:
        yield bridge
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
