"""The runtime contract, run against the fake runtime and the process runtime alike.

Each pod carries its behaviour twice: as a shell script for real processes and as `fake.miniplane.io/*`
annotations for the fake runtime.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.logs import LogOptions, read_log
from agent.observation import START_ERROR, BackoffState
from agent.runtime.base import ContainerNotRunning, Runtime
from agent.views import PodSpecView
from tests.integration.agent_runtime.conftest import one_exited, wait_for
from tests.unit.agent.builders import container, view

FAKE = "fake.miniplane.io/"


def behaving(*, exit_code: int | None = None, output: str | None = None, exec_exit: int = 0) -> PodSpecView:
    """A pod whose one container prints `output`, then exits with `exit_code` (None: runs until stopped)."""
    script, annotations = "", {FAKE + "exec-exit-code": str(exec_exit)}
    if output is not None:
        script += f"echo {output}; "
        annotations[FAKE + "output"] = output
    if exit_code is None:
        script += "exec sleep 3600"
    else:
        script += f"sleep 0.1; exit {exit_code}"
        annotations.update({FAKE + "run-for": "0.1", FAKE + "exit-code": str(exit_code)})
    return view(containers=[container(command=["/bin/sh", "-c", script])], annotations=annotations)


async def test_exit_code_is_observed(runtime: Runtime) -> None:
    pod = behaving(exit_code=3)
    result = await runtime.start_container(pod, "app")
    [obs] = await wait_for(runtime, one_exited)
    assert obs.container_id == result.container_id
    assert obs.terminated is not None
    assert (obs.terminated.exit_code, obs.terminated.reason, obs.restart_count) == (3, "Error", 0)
    assert obs.terminated.started_at <= obs.terminated.finished_at <= time.time()


async def test_stop_sends_sigterm(runtime: Runtime) -> None:
    pod = behaving()
    await runtime.start_container(pod, "app")
    assert runtime.observe()[0].running
    await runtime.stop_container(pod.uid, "app", grace=5)
    [obs] = runtime.observe()
    assert obs.terminated is not None and obs.terminated.exit_code == 143  # 128 + SIGTERM


async def test_restart_keeps_history(runtime: Runtime) -> None:
    pod = behaving(exit_code=0)
    first = await runtime.start_container(pod, "app")
    [done] = await wait_for(runtime, one_exited)
    second = await runtime.start_container(pod, "app", BackoffState(10, 123))
    [obs] = runtime.observe()
    assert second.container_id != first.container_id
    assert (obs.restart_count, obs.backoff, obs.last_terminated) == (1, BackoffState(10, 123), done.terminated)
    with pytest.raises(RuntimeError):
        await runtime.start_container(pod, "app")  # still running: no second instance


async def test_start_failure_is_an_exited_instance(runtime: Runtime) -> None:
    pod = view(containers=[container(command=["/no/such/binary"])], annotations={FAKE + "start-error": "not found"})
    await runtime.start_container(pod, "app")
    [obs] = await wait_for(runtime, one_exited)
    assert obs.terminated is not None
    assert (obs.terminated.reason, obs.terminated.exit_code) == (START_ERROR, 128)
    assert obs.terminated.start_failed


async def test_exec_reports_the_exit_code(runtime: Runtime) -> None:
    pod = behaving(exec_exit=4)
    await runtime.start_container(pod, "app")
    result = await runtime.exec(pod.uid, "app", ["/bin/sh", "-c", "exit 4"], 5)
    assert (result.exit_code, result.timed_out) == (4, False)
    await runtime.stop_pod(pod.uid, 1)
    with pytest.raises(ContainerNotRunning):
        await runtime.exec(pod.uid, "app", ["true"], 5)


async def test_output_reaches_the_log(runtime: Runtime) -> None:
    pod = behaving(output="hello-log", exit_code=0)
    await runtime.start_container(pod, "app")
    await wait_for(runtime, one_exited)
    path = runtime.log_path(pod.uid, "app")
    assert path is not None
    assert read_log(path, LogOptions(), time.time()) == b"hello-log\n"
    assert runtime.log_path(pod.uid, "app", previous=True) is None


async def test_remove_pod_forgets_it(runtime: Runtime) -> None:
    pod, other = behaving(output="x", exit_code=0), behaving()
    await runtime.start_container(pod, "app")
    await runtime.start_container(other, "app")
    await wait_for(runtime, lambda seen: any(not obs.running for obs in seen))
    await runtime.remove_pod(pod.uid)
    assert [obs.pod_uid for obs in runtime.observe()] == [other.uid]
    assert runtime.log_path(pod.uid, "app") is None


async def test_stop_all_and_wait_changed(runtime: Runtime) -> None:
    pods = [behaving(), behaving()]
    for pod in pods:
        await runtime.start_container(pod, "app")
    await runtime.wait_changed()  # the starts count as changes
    waiter = asyncio.create_task(runtime.wait_changed())
    await runtime.stop_all(grace=5)
    await asyncio.wait_for(waiter, 1)
    assert all(not obs.running for obs in runtime.observe())
