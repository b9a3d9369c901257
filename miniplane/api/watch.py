"""Watch streams: newline-delimited JSON events with Kubernetes' resourceVersion rules.

- ``resourceVersion=N``: the changes after N (410 Expired in-stream if N left the history window);
- ``resourceVersion=0`` or none: synthetic ADDED events for the current state first;
- ``sendInitialEvents=true`` (WatchList): ADDED for every object, then a BOOKMARK annotated
  ``k8s.io/initial-events-end``, then live events;
- no unrequested BOOKMARK events (``get -w`` would print them); Table events when asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from miniplane.api.queries import ListOptions
from miniplane.api.responses import JSON, wants_table
from miniplane.objects import errors
from miniplane.resources import tables
from miniplane.resources.registry import ResourceInfo
from miniplane.store import errors as store_errors
from miniplane.store.base import Store, StoredObject, WatchEvent
from miniplane.timeutil import utcnow


class _Stream:
    """Writes events to one watch response in the encoding the client asked for."""

    def __init__(self, response: web.StreamResponse, info: ResourceInfo, table: bool, include: str) -> None:
        self.response = response
        self.info = info
        self.table = table
        self.include = include

    async def event(self, kind: str, obj: StoredObject) -> None:
        if self.table:
            row = tables.table(self.info.kind, [obj.decode()], utcnow(), self.include, str(obj.rv))
            line = orjson.dumps({"type": kind, "object": row}) + b"\n"
        else:
            line = b'{"type":"' + kind.encode() + b'","object":' + obj.raw + b"}\n"
        await self.response.write(line)

    async def bookmark(self, rv: int, initial_end: bool = False) -> None:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        body = {"kind": self.info.kind, "apiVersion": self.info.api_version, "metadata": meta}
        await self.response.write(orjson.dumps({"type": "BOOKMARK", "object": body}) + b"\n")

    async def error(self, err: errors.APIError) -> None:
        await self.response.write(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")


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
    initial: list[StoredObject] = []
    if since is None:
        initial, since = await store.list(info.key, opts.query)
    events = store.watch(info.key, opts.query, since)
    response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
    response.enable_chunked_encoding()
    await response.prepare(request)
    stream = _Stream(response, info, wants_table(request), opts.include_object)
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
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


async def _pump(stream: _Stream, events: AsyncIterator[WatchEvent]) -> None:
    async for event in events:
        await stream.event(event.type, event.obj)
