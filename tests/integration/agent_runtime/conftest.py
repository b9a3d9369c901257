"""Fixtures for runtime tests: a process runtime (real processes, cgroups, namespaces) and a fake one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent.env import PodContext
from agent.observation import ContainerObservation
from agent.runtime.base import Runtime
from agent.runtime.fake import FakeRuntime
from agent.runtime.process import ProcessOptions, ProcessRuntime

CONTEXT = PodContext(node_name="node-a", host_ip="127.0.0.1")


@pytest.fixture
async def process_runtime(tmp_path: Path) -> AsyncIterator[ProcessRuntime]:
    runtime = await ProcessRuntime.create(tmp_path / "root", CONTEXT, ProcessOptions(start_timeout=5))
    yield runtime
    await runtime.stop_all(0)
    await runtime.close()


@pytest.fixture(params=["fake", "process"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """Each runtime the contract holds for."""
    if request.param == "fake":
        yield FakeRuntime(log_root=tmp_path / "logs")
        return
    runtime = await ProcessRuntime.create(tmp_path / "root", CONTEXT)
    yield runtime
    await runtime.stop_all(0)
    await runtime.close()


async def wait_for(
    runtime: Runtime, check: Callable[[list[ContainerObservation]], bool], within: float = 5.0
) -> list[ContainerObservation]:
    """Poll `runtime.observe()` until `check` holds."""
    deadline = time.monotonic() + within
    while not check(observed := runtime.observe()):
        assert time.monotonic() < deadline, f"not reached within {within} s: {observed}"
        await asyncio.sleep(0.02)
    return observed


def one_exited(observed: list[ContainerObservation]) -> bool:
    return len(observed) == 1 and not observed[0].running
