"""What the node lifecycle controller and pod GC share: the run/work loop and listing a node's pods.

Both follow the shape of the other controllers: ``Feed``s fill caches and queue keys (no I/O),
``WORKERS`` workers hand each key to a handler that reads the current state and decides again, so
a key queued twice or woken early is harmless (the queue never hands one key to two workers).
Several workers, because a handler that writes waits for the write to be durable, and at 10,000
nodes the deadline checks alone come several hundred a second: one worker falls behind under load.
Deadlines are ``WorkQueue.add_after`` timers: one per key, the earliest kept, woken by the event
loop's own timer heap (no periodic scan).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

from miniplane.controllers.feed import Feed, run_feeds
from miniplane.controllers.workqueue import WorkQueue
from miniplane.objects.errors import APIError
from miniplane.selectors import FieldRequirement, FieldSelector
from miniplane.store import errors as store_errors
from miniplane.store.base import Query, Store, StoredObject

log = logging.getLogger(__name__)

NODES, PODS = "nodes", "pods"
K = TypeVar("K", bound=Hashable)
WORKERS = 4


async def serve(feeds: Sequence[Feed], queue: WorkQueue[K], handle: Callable[[K], Awaitable[None]]) -> None:
    """Prime every feed, then watch them and work the queue until cancelled."""
    await run_feeds(feeds, queue, [lambda: _work(queue, handle)] * WORKERS)


async def _work(queue: WorkQueue[K], handle: Callable[[K], Awaitable[None]]) -> None:
    while True:
        key = await queue.get()
        try:
            await handle(key)
            queue.forget(key)
        except store_errors.NotFound:
            queue.forget(key)  # the object went away meanwhile: nothing left to do
        except (APIError, store_errors.StoreError) as err:
            if isinstance(err, APIError) and err.code == 404:
                queue.forget(key)
            else:
                log.debug("%s failed, retrying: %s", key, err)  # a lost write race, most often
                queue.add_rate_limited(key)
        finally:
            queue.done(key)
        await asyncio.sleep(0)  # in-memory store calls need not suspend: let watches and requests run between keys


async def pods_on(store: Store, node: str) -> list[StoredObject]:
    """The pods bound to a node (an indexed list)."""
    items, _ = await store.list(PODS, Query(fields=FieldSelector((FieldRequirement("spec.nodeName", "=", node),))))
    return items
