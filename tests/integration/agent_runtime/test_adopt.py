"""Agent restarts: containers started by an agent process that then exits are adopted, or killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.runtime import procfs
from agent.runtime.launch import STATE, ShimState, read
from agent.runtime.process import LOST_REASON, ProcessRuntime
from tests.integration.agent_runtime.conftest import CONTEXT, wait_for

REPO = Path(__file__).resolve().parents[3]

# A first agent: starts containers, prints their IDs, exits without stopping them (event loop closed).
FIRST_AGENT = """
import asyncio, json, sys
from pathlib import Path
from agent.env import PodContext
from agent.runtime.process import ProcessRuntime
from tests.unit.agent.builders import container, view

async def main(root, scripts):
    runtime = await ProcessRuntime.create(Path(root), PodContext("node-a", "127.0.0.1"))
    ids = {}
    for name, script in scripts.items():
        pod = view(name=name, uid=name, containers=[container(command=["/bin/sh", "-c", script])])
        ids[name] = (await runtime.start_container(pod, "app")).container_id
    print(json.dumps(ids), flush=True)

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


def first_agent(root: Path, scripts: dict[str, str]) -> dict[str, str]:
    """Run a first agent process to completion; the container IDs it started, by pod name."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_AGENT, str(root), json.dumps(scripts)],
        capture_output=True,
        env=env,
        timeout=30,
        check=True,
    )
    return dict(json.loads(done.stdout))


def shim_state(root: Path, container_id: str) -> ShimState:
    state = read(root / "instances" / container_id, STATE, ShimState)
    assert state is not None
    return state


async def test_running_containers_are_adopted_and_exits_recorded(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ids = first_agent(root, {"long": "echo started; exec sleep 600", "short": "sleep 0.2; exit 7"})
    long_state = shim_state(root, ids["long"])
    assert procfs.is_alive(long_state.pid, long_state.pid_start)  # survived its agent
    await asyncio.sleep(0.5)  # the short one exits while no agent runs
    runtime = await ProcessRuntime.create(root, CONTEXT)
    try:
        report = await runtime.adopt()
        assert (report.adopted, report.exited, report.killed) == ((ids["long"],), (ids["short"],), ())
        observed = {obs.pod_uid: obs for obs in runtime.observe()}
        short = observed["short"].terminated
        assert short is not None and (short.exit_code, short.reason) == (7, "Error")
        assert observed["long"].running
        started = time.monotonic()
        await runtime.stop_container("long", "app", grace=5)  # supervised again: SIGTERM, exit seen
        assert time.monotonic() - started < 2
        long = runtime.observe()[[o.pod_uid for o in runtime.observe()].index("long")].terminated
        assert long is not None and long.exit_code == 143
        assert not procfs.is_alive(long_state.pid, long_state.pid_start)
        log = runtime.log_path("long", "app")
        assert log is not None and b"started" in log.read_bytes()
    finally:
        await runtime.stop_all(0)
        await runtime.close()


async def test_container_whose_shim_died_is_killed_not_orphaned(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ids = first_agent(root, {"orphan": "exec sleep 600"})
    state = shim_state(root, ids["orphan"])
    os.kill(state.shim_pid, signal.SIGKILL)  # the supervisor is gone: nobody would record the exit
    deadline = time.monotonic() + 5
    while procfs.is_alive(state.shim_pid, state.shim_start):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    runtime = await ProcessRuntime.create(root, CONTEXT)
    try:
        report = await runtime.adopt()
        assert report.killed == (ids["orphan"],)
        assert not procfs.is_alive(state.pid, state.pid_start)
        [obs] = await wait_for(runtime, lambda seen: len(seen) == 1)
        assert obs.terminated is not None and (obs.terminated.reason, obs.terminated.exit_code) == (LOST_REASON, 137)
        assert not (root / "instances" / ids["orphan"]).exists()
    finally:
        await runtime.stop_all(0)
        await runtime.close()


async def test_unrecorded_instance_is_killed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ids = first_agent(root, {"ghost": "exec sleep 600"})
    state = shim_state(root, ids["ghost"])
    for record in (root / "pods").glob("*/containers/*.json"):
        record.unlink()  # as if the agent died between spawning and recording
    runtime = await ProcessRuntime.create(root, CONTEXT)
    try:
        report = await runtime.adopt()
        assert report.killed == (ids["ghost"],)
        assert runtime.observe() == []
        assert not procfs.is_alive(state.pid, state.pid_start)
        assert not procfs.is_alive(state.shim_pid, state.shim_start)
    finally:
        await runtime.close()
