"""The sync loop driving real processes: crash loops, probes, deletion, and the seed example's pod."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.logs import LogOptions, read_log
from agent.loop import SyncLoop
from agent.restarts import BackoffPolicy
from agent.runtime.process import ProcessRuntime
from tests.integration.agent_runtime.conftest import CONTEXT
from tests.unit.agent.builders import container, pod
from tests.unit.agent.test_loop import Recorder

SEED = Path(__file__).resolve().parents[3] / "configs" / "log-collector-daemonset.yaml"


@pytest.fixture
async def running_loop(process_runtime: ProcessRuntime) -> AsyncIterator[tuple[SyncLoop, Recorder]]:
    recorder = Recorder()
    loop = SyncLoop(
        process_runtime, CONTEXT, recorder, policy=BackoffPolicy(initial=0.2, maximum=0.8), resync_period=0.05
    )
    task = asyncio.create_task(loop.run())
    yield loop, recorder
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.02)


def states(recorder: Recorder) -> list[dict[str, Any]]:
    return [status["containerStatuses"][0] for _, status, _ in recorder.statuses]


def condition(status: dict[str, Any], kind: str) -> str:
    return next(c["status"] for c in status["conditions"] if c["type"] == kind)


async def test_crash_loop_restarts_under_backoff(running_loop: tuple[SyncLoop, Recorder]) -> None:
    loop, recorder = running_loop
    loop.set_desired([pod("crash", uid="u1", containers=[container(command=["/bin/sh", "-c", "exit 1"])])])
    await until(lambda: any(s["restartCount"] >= 3 for s in states(recorder)))
    waiting = [s["state"]["waiting"]["message"] for s in states(recorder) if "waiting" in s["state"]]
    assert "back-off 200ms restarting failed container=app pod=crash_default(u1)" in waiting
    assert "back-off 400ms restarting failed container=app pod=crash_default(u1)" in waiting
    assert {status["phase"] for _, status, _ in recorder.statuses} == {"Running"}  # never Failed, never replaced
    assert "False" in {condition(status, "Ready") for _, status, _ in recorder.statuses}


async def test_readiness_and_liveness_probes_on_real_processes(
    running_loop: tuple[SyncLoop, Recorder], tmp_path: Path
) -> None:
    loop, recorder = running_loop
    flag = tmp_path / "ready"
    ready = {"exec": {"command": ["test", "-f", str(flag)]}, "periodSeconds": 0.05}
    live = {
        "exec": {"command": ["/bin/sh", "-c", "exit 1"]},
        "periodSeconds": 0.05,
        "failureThreshold": 2,
        "initialDelaySeconds": 0.5,
    }
    loop.set_desired(
        [
            pod("ready", uid="r", containers=[container(command=["sleep", "600"], readinessProbe=ready)]),
            pod("dying", uid="d", containers=[container(command=["sleep", "600"], livenessProbe=live)]),
        ]
    )

    def ready_condition() -> str:
        return condition([s for n, s, _ in recorder.statuses if n == "ready"][-1], "Ready")

    await until(lambda: any(name == "ready" for name, _, _ in recorder.statuses))
    assert ready_condition() == "False"
    flag.touch()
    await until(lambda: ready_condition() == "True")
    killing = ("Normal", "Killing", "Container app failed liveness probe, will be restarted")
    await until(lambda: killing in recorder.events)
    await until(
        lambda: any(n == "dying" and s["containerStatuses"][0]["restartCount"] >= 1 for n, s, _ in recorder.statuses)
    )


async def test_deletion_stops_gracefully_and_reports_the_final_status(running_loop: tuple[SyncLoop, Recorder]) -> None:
    loop, recorder = running_loop
    script = "trap 'echo bye; exit 0' TERM; while true; do sleep 0.05; done"
    loop.set_desired([pod("web", uid="w", containers=[container(command=["/bin/sh", "-c", script])])])
    await until(lambda: bool(recorder.statuses) and "running" in states(recorder)[-1]["state"])
    await asyncio.sleep(0.2)  # let the trap be installed
    loop.set_desired([pod("web", uid="w", containers=[container(command=["/bin/sh", "-c", script])], deletion_grace=5)])
    await until(lambda: recorder.statuses[-1][2])
    final = recorder.statuses[-1][1]
    assert final["phase"] == "Succeeded"
    assert final["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    loop.set_desired([])
    await until(lambda: loop.runtime.observe() == [])


async def test_pre_stop_hook_runs_before_sigterm(running_loop: tuple[SyncLoop, Recorder], tmp_path: Path) -> None:
    loop, recorder = running_loop
    order = tmp_path / "order"
    script = f"trap 'echo term >> {order}; exit 0' TERM; while true; do sleep 0.05; done"
    hook = {"preStop": {"exec": {"command": ["/bin/sh", "-c", f"echo hook >> {order}; sleep 0.2"]}}}
    spec = [container(command=["/bin/sh", "-c", script], lifecycle=hook)]
    loop.set_desired([pod("web", uid="w", containers=spec)])
    await until(lambda: bool(recorder.statuses) and "running" in states(recorder)[-1]["state"])
    await asyncio.sleep(0.2)  # let the trap be installed
    loop.set_desired([pod("web", uid="w", containers=spec, deletion_grace=5)])
    await until(lambda: recorder.statuses[-1][2])
    assert order.read_text() == "hook\nterm\n"


async def test_the_seed_example_pod_runs(running_loop: tuple[SyncLoop, Recorder]) -> None:
    loop, recorder = running_loop
    template = yaml.safe_load(SEED.read_text())["spec"]["template"]
    seed = pod("simple-log-collector-x7k2p", uid="seed", containers=template["spec"]["containers"])
    loop.set_desired([seed])
    await until(lambda: bool(recorder.statuses) and recorder.statuses[-1][1]["phase"] == "Running")
    status = recorder.statuses[-1][1]
    assert condition(status, "Ready") == "True"

    def logged() -> bytes:
        path = loop.runtime.log_path("seed", "log-collector")
        return read_log(path, LogOptions(), time.time()) if path else b""

    await until(lambda: b"Log message from" in logged())
    if isinstance(loop.runtime, ProcessRuntime) and loop.runtime.features.uts_namespace:
        assert logged().rstrip().endswith(b"Log message from simple-log-collector-x7k2p")
