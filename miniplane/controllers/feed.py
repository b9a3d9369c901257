"""List-then-watch of one resource for an in-process controller (a minimal informer).

``prime`` lists the resource and hands every object to ``on_list``; ``run`` then watches from the
list's resourceVersion and hands each change to ``on_event``. When the store answers ``Gone`` or
drops the watcher (``WatchOverflow``), the feed lists again and calls ``on_list`` with the full
set, so a consumer that caches objects can drop the ones that disappeared meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from miniplane.controllers.workqueue import WorkQueue
from miniplane.store import errors as store_errors
from miniplane.store.base import Query, Store, StoredObject, WatchEvent

log = logging.getLogger(__name__)


class Feed:
    """One resource's list and watch, delivering to two callbacks (called without awaiting)."""

    def __init__(
        self,
        store: Store,
        resource: str,
        on_list: Callable[[list[StoredObject]], None],
        on_event: Callable[[WatchEvent], None],
        query: Query = Query(),
    ) -> None:
        self.store = store
        self.resource = resource
        self.query = query
        self.on_list = on_list
        self.on_event = on_event
        self._rv: int | None = None

    async def prime(self) -> None:
        """List and deliver every object (before workers start, so their caches are full)."""
        items, self._rv = await self.store.list(self.resource, self.query)
        self.on_list(items)

    async def run(self) -> None:
        """Watch until cancelled, re-listing whenever the watch cannot resume."""
        if self._rv is None:
            await self.prime()
        while True:
            try:
                async for event in self.store.watch(self.resource, self.query, self._rv):
                    self._rv = event.obj.rv
                    try:
                        self.on_event(event)
                    except Exception:  # a bad object must not stop the feed
                        log.exception("handling %s %s/%s", event.type, event.obj.namespace, event.obj.name)
                return
            except (store_errors.Gone, store_errors.WatchOverflow) as err:
                log.info("watch of %s restarts with a list: %s", self.resource, err)
                await self.prime()


async def run_feeds(
    feeds: Sequence[Feed], queue: WorkQueue[Any], workers: Sequence[Callable[[], Coroutine[Any, Any, None]]]
) -> None:
    """Prime every feed, then run the feeds' watches and the workers until cancelled; shut the queue down after."""
    for feed in feeds:
        await feed.prime()
    try:
        async with asyncio.TaskGroup() as tasks:
            for feed in feeds:
                tasks.create_task(feed.run())
            for worker in workers:
                tasks.create_task(worker())
    finally:
        queue.shut_down()
