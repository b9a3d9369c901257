"""Join a node: trust the server through the join token, then trade the token for the node's own.

The join token (``K10<sha256 of the CA PEM>::server:<secret>``) is all a node needs: the CA is
fetched from ``/cacerts`` without verification and accepted only if its hash matches the token;
then ``POST /v1-miniplane/join`` exchanges the token for a bearer token of ``system:node:NAME``.
Both are kept in ``ROOT/credentials`` and reused while the join token names the same CA.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from miniplane.auth.tokens import parse_join_token, pem_sha256
from miniplane.files import write_private
from miniplane.wire.client import APIError, Client

JOIN_PATH = "/v1-miniplane/join"
CACERTS_PATH = "/cacerts"


class JoinError(Exception):
    """The server cannot be trusted or refused the join token: retrying will not help."""


@dataclass(frozen=True, slots=True)
class NodeCredentials:
    """What a node uses to reach the server: its URL, the CA to trust ('' for http) and its token."""

    server: str
    node: str
    token: str
    ca_file: str

    def client(self, timeout: float = 30.0) -> Client:
        return Client(self.server, token=self.token, ca_file=self.ca_file, timeout=timeout)


async def join(server: str, join_token: str, node_name: str, root: Path) -> NodeCredentials:
    """Credentials for ``node_name``: the saved ones if still valid, else a fresh exchange."""
    parsed = parse_join_token(join_token)
    directory = root / "credentials"
    saved = _load(directory, server, node_name, parsed.ca_hash)
    if saved is not None:
        return saved
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = ""
    pem = await trusted_ca(server, join_token)
    if pem:
        ca_file = str(directory / "ca.crt")
        write_private(Path(ca_file), pem)
    async with Client(server, token=str(parsed), ca_file=ca_file) as client:
        try:
            answer = await client.request("POST", JOIN_PATH, {"nodeName": node_name})
        except APIError as err:
            if err.status < 500:
                raise JoinError(f"the server refused to join node {node_name}: {err.message}") from err
            raise
    credentials = NodeCredentials(server, node_name, str(answer["token"]), ca_file)
    record = {"server": server, "node": node_name, "token": credentials.token, "caHash": parsed.ca_hash}
    write_private(directory / "node.json", orjson.dumps(record))
    return credentials


async def trusted_ca(server: str, join_token: str) -> bytes:
    """The server's CA PEM if it matches the join token's hash (b'' for a plain-HTTP server)."""
    if not server.startswith("https://"):
        return b""
    parsed = parse_join_token(join_token)
    if not parsed.ca_hash:
        raise JoinError("the join token carries no CA hash, so the server's certificate cannot be checked")
    pem = await fetch_ca(server)
    if not hmac.compare_digest(pem_sha256(pem), parsed.ca_hash):
        raise JoinError(f"the CA served by {server} does not match the join token's hash")
    return pem


async def fetch_ca(server: str) -> bytes:
    """The CA the server presents at ``/cacerts``, fetched without verification (checked by hash)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.get(server.rstrip("/") + CACERTS_PATH, ssl=False) as resp,
    ):
        if resp.status != 200:
            raise JoinError(f"{server}{CACERTS_PATH} answered {resp.status}")
        return await resp.read()


def _load(directory: Path, server: str, node: str, ca_hash: str) -> NodeCredentials | None:
    try:
        record = orjson.loads((directory / "node.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(record, dict) or (record.get("server"), record.get("node"), record.get("caHash")) != (
        server,
        node,
        ca_hash,
    ):
        return None
    ca_file = directory / "ca.crt"
    if server.startswith("https://") and not ca_file.exists():
        return None
    return NodeCredentials(server, node, str(record.get("token", "")), str(ca_file) if ca_hash else "")
