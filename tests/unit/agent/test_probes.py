"""ProbeManager: handlers against real local sockets and the fake runtime's exec, timing, startup gating."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agent.probe_state import ContainerHealth
from agent.probes import ProbeManager
from agent.runtime.fake import FakeRuntime
from agent.views import PodSpecView
from tests.unit.agent.builders import container, view

FAST = {"periodSeconds": 0.02, "failureThreshold": 2}


async def eventually(check: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def http_server() -> AsyncIterator[dict[str, Any]]:
    """A tiny HTTP server on 127.0.0.1; set `state["code"]` to choose its answer."""
    state: dict[str, Any] = {"code": 200, "requests": []}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        state["requests"].append(head.decode())
        writer.write(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % state["code"])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state["port"] = server.sockets[0].getsockname()[1]
    yield state
    server.close()
    await server.wait_closed()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def started(runtime: FakeRuntime, pod: PodSpecView) -> ProbeManager:
    for spec in pod.containers:
        await runtime.start_container(pod, spec.name)
    manager = ProbeManager(runtime, "127.0.0.1")
    manager.sync([pod], runtime.observe())
    return manager


def verdict(manager: ProbeManager, runtime: FakeRuntime) -> ContainerHealth:
    return manager.health()[runtime.observe()[0].container_id]


@pytest.mark.parametrize(("exit_code", "ready"), [(0, True), (1, False)])
async def test_exec_readiness_uses_the_runtime(exit_code: int, ready: bool) -> None:
    runtime = FakeRuntime()
    probe = {"exec": {"command": ["check"]}, **FAST}
    pod = view(
        containers=[container(readinessProbe=probe)], annotations={"fake.miniplane.io/exec-exit-code": str(exit_code)}
    )
    manager = await started(runtime, pod)
    assert verdict(manager, runtime) == ContainerHealth(started=True, ready=False)  # unready until a success
    await asyncio.sleep(0.1)
    assert verdict(manager, runtime).ready is ready
    await manager.close()


async def test_http_readiness_follows_the_status_code(http_server: dict[str, Any]) -> None:
    runtime = FakeRuntime()
    probe = {"httpGet": {"path": "/healthz", "port": "web", "httpHeaders": [{"name": "X-Probe", "value": "1"}]}, **FAST}
    pod = view(
        containers=[container(readinessProbe=probe, ports=[{"name": "web", "containerPort": http_server["port"]}])]
    )
    manager = await started(runtime, pod)
    await eventually(lambda: verdict(manager, runtime).ready)
    assert "GET /healthz HTTP/1.1" in http_server["requests"][0]
    assert "User-Agent: kube-probe/1.37" in http_server["requests"][0]
    assert "X-Probe: 1" in http_server["requests"][0]
    http_server["code"] = 503
    await eventually(lambda: not verdict(manager, runtime).ready)
    http_server["code"] = 302  # 200-399 is success
    await eventually(lambda: verdict(manager, runtime).ready)
    await manager.close()


async def test_tcp_liveness_failure_asks_for_a_kill() -> None:
    runtime = FakeRuntime()
    probe = {"tcpSocket": {"port": free_port()}, **FAST}
    pod = view(containers=[container(livenessProbe=probe)])
    manager = await started(runtime, pod)
    cid = runtime.observe()[0].container_id
    await eventually(lambda: manager.unhealthy() == {cid: "failed liveness probe"})
    await manager.close()


async def test_tcp_success(http_server: dict[str, Any]) -> None:
    runtime = FakeRuntime()
    pod = view(containers=[container(readinessProbe={"tcpSocket": {"port": http_server["port"]}, **FAST})])
    manager = await started(runtime, pod)
    await eventually(lambda: verdict(manager, runtime).ready)
    await manager.close()


async def test_initial_delay_is_measured_from_the_container_start() -> None:
    runtime = FakeRuntime()
    probe = {"exec": {"command": ["check"]}, "initialDelaySeconds": 0.3, "periodSeconds": 0.02}
    pod = view(containers=[container(readinessProbe=probe)])
    manager = await started(runtime, pod)
    await asyncio.sleep(0.15)
    assert not verdict(manager, runtime).ready
    await eventually(lambda: verdict(manager, runtime).ready)
    await manager.close()


async def test_readiness_waits_for_the_startup_probe() -> None:
    runtime = FakeRuntime()
    startup = {"exec": {"command": ["check"]}, "periodSeconds": 0.02, "failureThreshold": 1000}
    pod = view(
        containers=[container(startupProbe=startup, readinessProbe={"exec": {"command": ["check"]}, **FAST})],
        annotations={"fake.miniplane.io/exec-exit-code": "1"},
    )
    manager = await started(runtime, pod)
    await asyncio.sleep(0.1)
    assert verdict(manager, runtime) == ContainerHealth(started=False, ready=False)
    await manager.close()


async def test_startup_failure_asks_for_a_kill() -> None:
    runtime = FakeRuntime()
    startup = {"exec": {"command": ["check"]}, **FAST}
    pod = view(containers=[container(startupProbe=startup)], annotations={"fake.miniplane.io/exec-exit-code": "1"})
    manager = await started(runtime, pod)
    await eventually(lambda: bool(manager.unhealthy()))
    assert list(manager.unhealthy().values()) == ["failed startup probe"]
    await manager.close()


async def test_grpc_probes_are_unsupported_and_fail() -> None:
    runtime = FakeRuntime()
    pod = view(containers=[container(readinessProbe={"grpc": {"port": 9000}, **FAST})])
    manager = await started(runtime, pod)
    await asyncio.sleep(0.08)
    assert not verdict(manager, runtime).ready
    await manager.close()


async def test_sync_stops_probing_exited_instances() -> None:
    runtime = FakeRuntime()
    pod = view(containers=[container(readinessProbe={"exec": {"command": ["check"]}, **FAST})])
    manager = await started(runtime, pod)
    await runtime.stop_pod(pod.uid, 0)
    manager.sync([pod], runtime.observe())
    assert manager.health() == {}
    await manager.close()
