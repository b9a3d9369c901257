"""Limits on watch streams: how many one client may hold open, and how far one may fall behind.

- ``WatchLimits.per_client``: concurrent watches per client (the authenticated user, else the peer
  address). A node agent holds about two and an admin a few dozen ``kubectl get -w``; the cap stops a
  client that leaks watches, and the one over it gets 429 TooManyRequests with ``Retry-After``, as
  Kubernetes answers throttled requests.
- ``WatchLimits.queue_size``: events the store buffers for one watch; a watch further behind gets an
  in-stream 410 Expired and must list again (the store's ``WatchOverflow``).
- ``WatchLimits.write_timeout``: a watch whose client accepts no bytes for this long is cut off, so a
  client that stops reading holds only the socket buffers, never a growing backlog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web

from miniplane.auth.identity import REQUEST_USER, SUPERUSER, User
from miniplane.objects import errors

RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True, slots=True)
class WatchLimits:
    """The watch limits of one server."""

    per_client: int = 1000
    queue_size: int = 10_000
    write_timeout: float = 60.0


@dataclass(eq=False, slots=True)
class OpenWatch:
    """One open watch as the counter sees it: whether its client has gone, and how to end it."""

    gone: Callable[[], bool]
    end: Callable[[], object]


class WatchCounter:
    """Open watches per client, refusing one more than ``limit``.

    A client that left is only noticed when its watch next writes (aiohttp does not cancel handlers),
    so at the limit the client's watches whose connection is gone are ended and not counted.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the watch limit must be positive")
        self.limit = limit
        self._open: dict[str, set[OpenWatch]] = {}

    def count(self, client: str) -> int:
        """How many watches ``client`` holds open now."""
        return len(self._open.get(client, ()))

    @contextmanager
    def hold(self, client: str, watch: OpenWatch) -> Iterator[None]:
        """Count ``watch`` against ``client`` while the block runs; 429 when the client is at the limit."""
        held = self._open.setdefault(client, set())
        if len(held) >= self.limit:
            for dead in [w for w in held if w.gone()]:
                held.discard(dead)
                dead.end()
        if len(held) >= self.limit:
            raise too_many_watches(client, self.limit)
        held.add(watch)
        try:
            yield
        finally:
            held.discard(watch)
            if not held and self._open.get(client) is held:
                del self._open[client]


def too_many_watches(client: str, limit: int) -> errors.APIError:
    """429 TooManyRequests; ``details.retryAfterSeconds`` becomes the ``Retry-After`` header."""
    return errors.APIError(
        429,
        "TooManyRequests",
        f"too many open watches for {client} (limit {limit}); close some, or try again later",
        {"retryAfterSeconds": RETRY_AFTER_SECONDS},
    )


def client_of(request: web.Request) -> str:
    """Whom a request counts against: the authenticated user, else (``--insecure-http``) the peer address."""
    user: User | None = request.get(REQUEST_USER)
    if user is not None and user is not SUPERUSER:
        return user.name
    return request.remote or "unknown"


LIMITS: web.AppKey[WatchLimits] = web.AppKey("watch_limits", WatchLimits)
WATCHES: web.AppKey[WatchCounter] = web.AppKey("watches", WatchCounter)
