"""Runs the in-process controllers for the server's lifetime, failing loudly if one crashes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from miniplane.controllers.garbage_collector import GarbageCollector
from miniplane.objects.service import ObjectService

log = logging.getLogger(__name__)


class ControllerManager:
    """Owns the controllers' tasks."""

    def __init__(self, service: ObjectService, node_monitor_grace_period: float = 50.0) -> None:
        self.service = service
        self.node_monitor_grace_period = node_monitor_grace_period

    def _controllers(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"garbage-collector": GarbageCollector(self.service).run}

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start every controller; cancel them all on exit."""
        tasks = [asyncio.create_task(self._supervise(name, run)) for name, run in self._controllers().items()]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Restart a crashed controller after a pause, logging the failure."""
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller %s crashed; restarting in 1 s", name)
                await asyncio.sleep(1.0)
