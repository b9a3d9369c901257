"""SyncLoop on the fake runtime: what it reports, when, and the Events it records."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.env import PodContext
from agent.loop import SyncLoop
from agent.restarts import BackoffPolicy
from agent.runtime.fake import FakeRuntime
from agent.views import PodSpecView
from tests.unit.agent.builders import container, pod
from tests.unit.agent.test_sync import FAKE, Clock

CTX = PodContext("node-a", "10.0.0.7")


class Recorder:
    """A Reporter that keeps everything."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, dict[str, Any], bool]] = []
        self.events: list[tuple[str, str, str]] = []

    async def status(self, pod: PodSpecView, status: dict[str, Any], final: bool) -> None:
        self.statuses.append((pod.name, status, final))

    def event(self, pod: PodSpecView, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason, message))

    def last_state(self) -> dict[str, Any]:
        return dict(self.statuses[-1][1]["containerStatuses"][0]["state"])


async def settle(loop: SyncLoop) -> None:
    """One sync, then let background stops run, then another sync to see their effect."""
    await loop.sync_once()
    await asyncio.sleep(0.01)
    await loop.sync_once()


async def test_reports_only_changes() -> None:
    clock, recorder = Clock(1000), Recorder()
    loop = SyncLoop(FakeRuntime(clock), CTX, recorder, clock=clock)
    loop.set_desired([pod("web", uid="u1")])
    await loop.sync_once()
    assert recorder.events == [("Normal", "Started", "Started container app")]
    assert [(name, s["phase"], final) for name, s, final in recorder.statuses] == [("web", "Running", False)]
    clock.now += 30
    await loop.sync_once()
    assert len(recorder.statuses) == 1  # nothing changed, nothing sent
    await loop.close()


async def test_crash_loop_is_reported_with_its_backoff() -> None:
    clock, recorder = Clock(1000), Recorder()
    runtime = FakeRuntime(clock)
    loop = SyncLoop(runtime, CTX, recorder, clock=clock, policy=BackoffPolicy(initial=2, maximum=8))
    loop.set_desired([pod("web", uid="u1", annotations={FAKE + "run-for": "1", FAKE + "exit-code": "1"})])
    await loop.sync_once()  # start
    clock.now += 1
    await loop.sync_once()  # first crash: restarted at once
    clock.now += 1
    await loop.sync_once()  # second crash: back-off 2 s
    assert recorder.last_state()["waiting"]["reason"] == "CrashLoopBackOff"
    message = recorder.last_state()["waiting"]["message"]
    assert message == "back-off 2s restarting failed container=app pod=web_default(u1)"
    clock.now += 2
    await loop.sync_once()
    assert "running" in recorder.last_state()
    assert recorder.statuses[-1][1]["containerStatuses"][0]["restartCount"] == 2
    await loop.close()


async def test_deleted_pod_is_stopped_and_reported_final() -> None:
    clock, recorder = Clock(1000), Recorder()
    loop = SyncLoop(FakeRuntime(clock), CTX, recorder, clock=clock)
    loop.set_desired([pod("web", uid="u1")])
    await loop.sync_once()
    loop.set_desired([pod("web", uid="u1", deletion_grace=5)])
    await settle(loop)
    name, status, final = recorder.statuses[-1]
    assert (final, status["phase"]) == (True, "Failed")  # SIGTERM: exit 143
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 143
    loop.set_desired([])
    await settle(loop)
    assert loop.runtime.observe() == []  # forgotten
    await loop.close()


async def test_malformed_pods_are_skipped() -> None:
    clock, recorder = Clock(1000), Recorder()
    loop = SyncLoop(FakeRuntime(clock), CTX, recorder, clock=clock)
    loop.set_desired([{"metadata": {"name": "no-uid"}}, {"spec": None}, pod("web", uid="u1")])
    await loop.sync_once()
    assert [name for name, _, _ in recorder.statuses] == ["web"]
    await loop.close()


async def test_start_error_is_an_event_and_a_waiting_state() -> None:
    clock, recorder = Clock(1000), Recorder()
    loop = SyncLoop(FakeRuntime(clock), CTX, recorder, clock=clock)
    loop.set_desired([pod("web", uid="u1", annotations={FAKE + "start-error": "exec: nope"})])
    await loop.sync_once()
    assert recorder.events == [("Warning", "Failed", "Error: exec: nope")]
    assert recorder.last_state() == {"waiting": {"reason": "RunContainerError", "message": "exec: nope"}}
    assert recorder.statuses[-1][1]["phase"] == "Pending"
    await loop.close()


async def test_failed_liveness_probe_kills_and_restarts() -> None:
    recorder = Recorder()
    runtime = FakeRuntime()
    loop = SyncLoop(runtime, CTX, recorder, policy=BackoffPolicy(initial=0.05))
    probe = {"exec": {"command": ["check"]}, "periodSeconds": 0.01, "failureThreshold": 1}
    loop.set_desired(
        [pod("web", uid="u1", containers=[container(livenessProbe=probe)], annotations={FAKE + "exec-exit-code": "1"})]
    )
    task = asyncio.create_task(loop.run())
    for _ in range(200):
        if runtime.observe() and runtime.observe()[0].restart_count >= 1:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert runtime.observe()[0].restart_count >= 1
    assert ("Normal", "Killing", "Container app failed liveness probe, will be restarted") in recorder.events


async def test_run_wakes_on_new_pods_without_waiting_for_the_resync() -> None:
    recorder = Recorder()
    runtime = FakeRuntime()
    loop = SyncLoop(runtime, CTX, recorder, resync_period=60)
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.02)
    loop.set_desired([pod("web", uid="u1")])
    for _ in range(100):
        if runtime.observe():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [obs.name for obs in runtime.observe()] == ["app"]
