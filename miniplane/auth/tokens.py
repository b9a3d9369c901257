"""Join tokens (k3s style) and per-node bearer tokens.

A join token reads ``K10<sha256 of the CA PEM>::server:<secret>``: whoever holds it can fetch the CA
from ``/cacerts`` and check it against the hash, then exchange the secret for a node token. A node
token reads ``node.<name>.<HMAC-SHA256(key, name)>``: the server verifies it without a lookup, and
the same name always gets the same token, so a re-joining agent keeps its credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

JOIN_PREFIX = "K10"
NODE_PREFIX = "node."
VERIFIED_CACHE = 100_000  # verified node tokens remembered (~200 bytes each)


@dataclass(frozen=True, slots=True)
class JoinToken:
    """The parts of a join token; ``ca_hash`` is empty for a bare secret."""

    ca_hash: str
    secret: str

    def __str__(self) -> str:
        return f"{JOIN_PREFIX}{self.ca_hash}::server:{self.secret}" if self.ca_hash else self.secret


def parse_join_token(text: str) -> JoinToken:
    """Split a join token; a token without the ``K10`` form is a bare secret."""
    text = text.strip()
    if text.startswith(JOIN_PREFIX) and "::" in text:
        head, _, credential = text.partition("::")
        _, _, secret = credential.partition(":")
        return JoinToken(head[len(JOIN_PREFIX) :], secret or credential)
    return JoinToken("", text)


def pem_sha256(pem: bytes) -> str:
    """The hex SHA-256 of a certificate's PEM bytes, as the join token carries the CA's."""
    return hashlib.sha256(pem).hexdigest()


def new_secret() -> str:
    return secrets.token_hex(24)


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())


class NodeTokens:
    """Issue and verify per-node bearer tokens with one server-side key.

    Verified tokens are remembered (up to ``VERIFIED_CACHE`` of them), so a heartbeat costs a dict
    lookup instead of an HMAC; a token failing verification is never remembered.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._verified: dict[str, str] = {}

    def issue(self, node: str) -> str:
        return f"{NODE_PREFIX}{_b64(node.encode())}.{self._mac(node)}"

    def verify(self, token: str) -> str | None:
        """The node name the token was issued to, or None."""
        node = self._verified.get(token)
        if node is None:
            node = self._check(token)
            if node is not None:
                if len(self._verified) >= VERIFIED_CACHE:
                    self._verified.clear()
                self._verified[token] = node
        return node

    def _check(self, token: str) -> str | None:
        if not token.startswith(NODE_PREFIX):
            return None
        encoded, _, mac = token[len(NODE_PREFIX) :].rpartition(".")
        try:
            node = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return node if node and same(mac, self._mac(node)) else None

    def _mac(self, node: str) -> str:
        return _b64(hmac.new(self._key, node.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
