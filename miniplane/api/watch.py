"""Watch streams: newline-delimited JSON events with Kubernetes' resourceVersion rules.

- ``resourceVersion=N``: the changes after N (410 Expired in-stream if N left the history window);
- ``resourceVersion=0`` or none: synthetic ADDED events for the current state first;
- ``sendInitialEvents=true`` (WatchList): ADDED for every object, then a BOOKMARK annotated
  ``k8s.io/initial-events-end``, then live events;
- no unrequested BOOKMARK events (``get -w`` would print them); Table events when asked for;
- a client holds at most ``WatchLimits.per_client`` watches (429 beyond), and one that accepts no
  bytes for ``WatchLimits.write_timeout`` is cut off (``miniplane.api.limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from miniplane.api.limits import LIMITS, WATCHES, OpenWatch, client_of
from miniplane.api.queries import ListOptions
from miniplane.api.responses import JSON, wants_table
from miniplane.objects import errors
from miniplane.resources import tables
from miniplane.resources.registry import ResourceInfo
from miniplane.store import errors as store_errors
from miniplane.store.base import Store, StoredObject, WatchEvent
from miniplane.timeutil import utcnow

log = logging.getLogger(__name__)


class _Stalled(Exception):
    """The client accepted no bytes for the write timeout."""


class _Stream:
    """Writes events to one watch response in the encoding the client asked for."""

    def __init__(
        self, response: web.StreamResponse, info: ResourceInfo, table: bool, include: str, write_timeout: float
    ) -> None:
        self.response = response
        self.info = info
        self.table = table
        self.include = include
        self.write_timeout = write_timeout

    async def _write(self, data: bytes, eof: bool = False) -> None:
        """Send ``data`` (and end the body); ``_Stalled`` when the client takes none of our backlog in time."""
        try:
            async with asyncio.timeout(self.write_timeout):
                await (self.response.write_eof(data) if eof else self.response.write(data))
        except TimeoutError:
            raise _Stalled from None

    async def event(self, kind: str, obj: StoredObject) -> None:
        if self.table:
            row = tables.table(self.info.kind, [obj.decode()], utcnow(), self.include, str(obj.rv))
            line = orjson.dumps({"type": kind, "object": row}) + b"\n"
        else:
            line = b'{"type":"' + kind.encode() + b'","object":' + obj.raw + b"}\n"
        await self._write(line)

    async def bookmark(self, rv: int, initial_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        body = {"kind": self.info.kind, "apiVersion": self.info.api_version, "metadata": meta}
        await self._write(orjson.dumps({"type": "BOOKMARK", "object": body}) + b"\n")

    async def error(self, err: errors.APIError) -> None:
        await self._write(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")

    async def end(self) -> None:
        await self._write(b"", eof=True)


def _start_rv(opts: ListOptions) -> int | None:
    """The resourceVersion to replay from, or None when the state must be sent first."""
    if opts.send_initial_events or opts.resource_version in ("", "0"):
        return None
    try:
        return int(opts.resource_version)
    except ValueError:
        raise errors.bad_request(f"invalid resourceVersion {opts.resource_version!r}") from None


async def serve(request: web.Request, store: Store, info: ResourceInfo, opts: ListOptions) -> web.StreamResponse:
    """Answer a ``?watch=true`` request; runs until the client leaves, the timeout, or shutdown."""
    if opts.send_initial_events is not None and opts.send_initial_events and opts.resource_version not in ("", "0"):
        raise errors.APIError(
            422, "Invalid", 'sendInitialEvents is only supported with an empty or "0" resourceVersion'
        )
    since = _start_rv(opts)
    client = client_of(request)
    with request.app[WATCHES].hold(client, OpenWatch(partial(_client_gone, request), request.task.cancel)):
        initial: list[StoredObject] = []
        if since is None:
            initial, since = await store.list(info.key, opts.query)
        events = store.watch(info.key, opts.query, since)
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        response.enable_chunked_encoding()
        await response.prepare(request)
        stream = _Stream(response, info, wants_table(request), opts.include_object, request.app[LIMITS].write_timeout)
        try:
            await _send(stream, events, initial, since, opts)
            await stream.end()
        except _Stalled:
            log.info("cut off a watch of %s by %s: no data accepted for %ss", info.key, client, stream.write_timeout)
            if request.transport is not None:
                request.transport.abort()
        except ConnectionResetError:
            pass
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()
        return response


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _send(
    stream: _Stream, events: AsyncIterator[WatchEvent], initial: list[StoredObject], since: int, opts: ListOptions
) -> None:
    """The initial state if asked for, then live events until the timeout; an in-stream 410 ends it early."""
    try:
        async with asyncio.timeout(opts.timeout or None):
            for obj in initial:
                await stream.event("ADDED", obj)
            if opts.send_initial_events:
                await stream.bookmark(since, initial_end=True)
            await _pump(stream, events)
    except TimeoutError:
        pass
    except store_errors.Gone as err:
        await stream.error(errors.gone(err.requested, err.oldest))
    except store_errors.WatchOverflow:
        await stream.error(errors.APIError(410, "Expired", "the watch fell behind and was closed; list again"))


async def _pump(stream: _Stream, events: AsyncIterator[WatchEvent]) -> None:
    async for event in events:
        await stream.event(event.type, event.obj)
