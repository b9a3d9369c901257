"""The agent's sync loop: feeds `plan_actions` and applies its actions (the thin async half of `sync`).

```
set_desired(pods) ─┐                                   ┌─> runtime.start_container / stop_pod / ...
runtime exits ─────┼─> sync_once: observe, probes.sync, ─┤
probe verdicts ────┤   plan_actions(desired, observed)  └─> status.build_pod_status ─> Reporter.status
every resync s ────┘
```
Stopping runs the containers' `preStop` hooks (exec, sleep) before SIGTERM, within the grace period.
The server side (pod watch, status PATCH, pod deletion, Events) is the `Reporter`'s business: the loop
calls `Reporter.status` only when a pod's status changed, with `final=True` once a deleted pod has
stopped (the reporter then deletes the pod object with grace 0), and `Reporter.event` for what the
kubelet would record as Events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from agent.env import PodContext
from agent.probes import ProbeManager
from agent.restarts import BackoffPolicy
from agent.runtime.base import ContainerNotRunning, Runtime
from agent.status import build_pod_status
from agent.sync import (
    Action,
    ForgetPod,
    ReportStatus,
    RestartContainer,
    StartContainer,
    StopContainer,
    StopPod,
    plan_actions,
)
from agent.views import PodSpecView

log = logging.getLogger(__name__)
NORMAL, WARNING = "Normal", "Warning"


class Reporter(Protocol):
    """Where the loop sends what the API server must learn."""

    async def status(self, pod: PodSpecView, status: dict[str, Any], final: bool) -> None:
        """Write the pod's status (PATCH pods/NAME/status); when `final`, then delete the pod with grace 0."""

    def event(self, pod: PodSpecView, kind: str, reason: str, message: str) -> None:
        """Record an Event about the pod (`kind` is Normal or Warning)."""


class SyncLoop:
    """Keeps the runtime's containers in line with the pods bound to this node."""

    def __init__(
        self,
        runtime: Runtime,
        context: PodContext,
        reporter: Reporter,
        *,
        policy: BackoffPolicy | None = None,
        resync_period: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime, self.context, self.reporter = runtime, context, reporter
        self.policy = policy or BackoffPolicy()
        self.resync_period = resync_period
        self.clock = clock
        self.probes = ProbeManager(runtime, context.pod_ip, on_change=self.wake, clock=clock)
        self._desired: dict[str, PodSpecView] = {}
        self._api_status: dict[str, Mapping[str, Any]] = {}
        self._reported: dict[str, dict[str, Any]] = {}
        self._stopping: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def set_desired(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """Replace the set of pods bound to this node (pod dicts as the API serves them)."""
        views, statuses = {}, {}
        for pod in pods:
            try:
                view = PodSpecView.from_pod(pod)
            except (KeyError, TypeError, ValueError) as error:
                log.error("ignoring a malformed pod %r: %s", (pod.get("metadata") or {}).get("name"), error)
                continue
            views[view.uid], statuses[view.uid] = view, pod.get("status") or {}
        self._desired, self._api_status = views, statuses
        # Forget what was reported where the server's copy now differs (the node controller may have
        # marked the pod not ready): the next sync reports it again.
        self._reported = {uid: status for uid, status in self._reported.items() if statuses.get(uid) == status}
        self.wake()

    def wake(self) -> None:
        """Run a sync soon."""
        self._wake.set()

    async def run(self) -> None:
        """Sync on every change, and every `resync_period` seconds; runs until cancelled."""
        try:
            while True:
                await self.sync_once()
                await self._wait()
        finally:
            await self.close()

    async def sync_once(self) -> None:
        """Observe, plan and apply once."""
        self._wake.clear()
        observed = self.runtime.observe()
        self.probes.sync(self._desired.values(), observed)
        actions = plan_actions(
            self._desired.values(), observed, self.clock(), unhealthy=self.probes.unhealthy(), policy=self.policy
        )
        for action in actions:
            try:
                await self._apply(action)
            except Exception:  # one pod's trouble must not stop the node: log it, retry on the next sync
                log.exception("applying %s failed", type(action).__name__)

    async def close(self) -> None:
        """Stop probing and cancel stops in progress (the containers themselves keep running)."""
        await self.probes.close()
        for task in self._stopping.values():
            task.cancel()
        await asyncio.gather(*self._stopping.values(), return_exceptions=True)

    async def _apply(self, action: Action) -> None:
        if isinstance(action, StartContainer | RestartContainer):
            backoff = action.backoff if isinstance(action, RestartContainer) else None
            result = await self.runtime.start_container(action.pod, action.container, backoff)
            for warning in result.warnings:
                self.reporter.event(action.pod, WARNING, "NotEnforced", warning)
            self._started_event(action.pod, action.container, result.container_id)
        elif isinstance(action, StopContainer):
            pod = self._desired[action.pod_uid]
            message = f"Container {action.container} {action.reason}, will be restarted"
            if self._stop((action.pod_uid, action.container), action.grace):
                self.reporter.event(pod, NORMAL, "Killing", message)
        elif isinstance(action, StopPod):
            self._stop((action.pod_uid, ""), action.grace)
        elif isinstance(action, ForgetPod):
            await self.runtime.remove_pod(action.pod_uid)
            self._reported.pop(action.pod_uid, None)
        elif isinstance(action, ReportStatus):
            await self._report(self._desired[action.pod_uid], action.final)

    def _started_event(self, pod: PodSpecView, name: str, container_id: str) -> None:
        obs = next((o for o in self.runtime.observe() if o.container_id == container_id), None)
        if obs is None or obs.terminated is None:
            self.reporter.event(pod, NORMAL, "Started", f"Started container {name}")
        elif obs.terminated.start_failed:
            self.reporter.event(pod, WARNING, "Failed", f"Error: {obs.terminated.message}")

    def _stop(self, key: tuple[str, str], grace: float) -> bool:
        """Stop a container (or, with name "", a pod) in the background unless already stopping it."""
        if key in self._stopping:
            return False
        task = asyncio.create_task(self._stop_now(key, grace))
        self._stopping[key] = task
        task.add_done_callback(lambda done: self._stopped(key, done))
        return True

    async def _stop_now(self, key: tuple[str, str], grace: float) -> None:
        """preStop hooks first, then SIGTERM and SIGKILL, all within `grace` seconds."""
        uid, name = key
        running = {obs.name for obs in self.runtime.observe() if obs.pod_uid == uid and obs.running}
        pod = self._desired.get(uid)
        started = time.monotonic()
        if pod is not None:
            hooks = [
                spec
                for spec in pod.all_containers
                if spec.pre_stop and spec.name in running and name in ("", spec.name)
            ]
            await asyncio.gather(*(self._pre_stop(pod, spec.name, spec.pre_stop or {}, grace) for spec in hooks))
        left = max(0.0, grace - (time.monotonic() - started))
        await (self.runtime.stop_container(uid, name, left) if name else self.runtime.stop_pod(uid, left))

    async def _pre_stop(self, pod: PodSpecView, name: str, hook: Mapping[str, Any], grace: float) -> None:
        try:
            if "exec" in hook:
                result = await self.runtime.exec(pod.uid, name, hook["exec"]["command"], grace)
                if result.exit_code != 0:
                    message = f"PreStopHook failed: exit code {result.exit_code}"
                    self.reporter.event(pod, WARNING, "FailedPreStopHook", message)
            elif "sleep" in hook:
                await asyncio.sleep(min(float(hook["sleep"]["seconds"]), grace))
            else:
                self.reporter.event(pod, WARNING, "FailedPreStopHook", f"unsupported preStop handler {sorted(hook)}")
        except ContainerNotRunning:
            pass

    def _stopped(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._stopping.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("stopping %s failed", key, exc_info=task.exception())
        self.wake()

    async def _report(self, pod: PodSpecView, final: bool) -> None:
        previous = self._reported.get(pod.uid) or self._api_status.get(pod.uid)
        status = build_pod_status(
            pod,
            self.runtime.observe(),
            self.clock(),
            host_ip=self.context.host_ip,
            health=self.probes.health(),
            previous=previous,
            policy=self.policy,
        )
        if status == self._reported.get(pod.uid):
            return
        self._reported[pod.uid] = status
        try:
            await self.reporter.status(pod, status, final)
        except Exception:
            self._reported.pop(pod.uid, None)  # try again on the next sync
            log.exception("reporting the status of pod %s/%s failed", pod.namespace, pod.name)

    async def _wait(self) -> None:
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(self.runtime.wait_changed())]
        try:
            await asyncio.wait(waiters, timeout=self.resync_period, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            # gather, not ``suppress(CancelledError)`` around each waiter: that would also swallow
            # a cancellation of this task arriving here, and ``run`` would never end
            await asyncio.gather(*waiters, return_exceptions=True)
