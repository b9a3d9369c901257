"""Runs the in-process controllers for the server's lifetime, failing loudly if one crashes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from miniplane import metrics
from miniplane.controllers.binder import Binder
from miniplane.controllers.daemonset.controller import DaemonSetController
from miniplane.controllers.garbage_collector import GarbageCollector
from miniplane.controllers.nodelifecycle.controller import NodeLifecycleController
from miniplane.controllers.nodelifecycle.podgc import PodGarbageCollector
from miniplane.objects.service import ObjectService

log = logging.getLogger(__name__)


class ControllerManager:
    """Owns the controllers' tasks."""

    def __init__(
        self,
        service: ObjectService,
        node_monitor_grace_period: float = 50.0,
        node_startup_grace_period: float = 60.0,
        pod_gc_quarantine: float = 10.0,
    ) -> None:
        """Durations in seconds.

        ``pod_gc_quarantine`` is 40 s in Kubernetes, where it covers informer caches lagging behind
        the API; miniplane's controllers read one consistent store, so the wait only has to let a
        just-deleted node be registered again before its pods go.
        """
        self.service = service
        self.node_monitor_grace_period = node_monitor_grace_period
        self.node_startup_grace_period = node_startup_grace_period
        self.pod_gc_quarantine = pod_gc_quarantine

    def _controllers(self) -> dict[str, Callable[[], Awaitable[None]]]:
        lifecycle = NodeLifecycleController(
            self.service, self.node_monitor_grace_period, self.node_startup_grace_period
        )
        return {
            "garbage-collector": GarbageCollector(self.service).run,
            "daemonset": DaemonSetController(self.service).run,
            "binder": Binder(self.service).run,
            "node-lifecycle": lifecycle.run,
            "pod-garbage-collector": PodGarbageCollector(self.service, self.pod_gc_quarantine).run,
        }

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start every controller; cancel them all on exit."""
        controllers = self._controllers()
        owners = {name: getattr(run, "__self__", None) for name, run in controllers.items()}
        metrics.REGISTRY.set_collector("controllers", lambda: metrics.workqueue_metrics(owners))
        tasks = [asyncio.create_task(self._supervise(name, run)) for name, run in controllers.items()]
        try:
            yield
        finally:
            metrics.REGISTRY.set_collector("controllers", None)
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
