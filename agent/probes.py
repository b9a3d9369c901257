"""Startup, readiness and liveness probes of running containers (the I/O side of `probe_state`).

`ProbeManager.sync` is called by the sync loop with the desired pods and the observations: it starts one
task per probe of every running container instance and cancels those of instances that are gone. Each
task waits `initialDelaySeconds` from the container's start, then probes every `periodSeconds` with a
`timeoutSeconds` limit; readiness and liveness wait until the startup probe has passed. Handlers: exec
(in the container's environment, through the runtime), httpGet (200-399), tcpSocket (connect); grpc is
not supported and always fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent.observation import ContainerObservation
from agent.probe_state import STARTUP, ContainerHealth, ProbeSettings, ProbeTracker, container_health
from agent.runtime.base import ContainerNotRunning, Runtime
from agent.views import ContainerSpec, PodSpecView

log = logging.getLogger(__name__)
USER_AGENT = "kube-probe/1.37"


class ProbeManager:
    """Probe workers per running container instance, and their verdicts."""

    def __init__(
        self,
        runtime: Runtime,
        pod_ip: str,
        *,
        on_change: Callable[[], None] = lambda: None,  # a verdict changed: wake the sync loop
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime, self.pod_ip, self.on_change, self.clock = runtime, pod_ip, on_change, clock
        self._trackers: dict[str, dict[str, ProbeTracker]] = {}  # container ID -> kind -> tracker
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}

    def sync(self, pods: Iterable[PodSpecView], observed: Iterable[ContainerObservation]) -> None:
        """Start probing new running instances; stop probing those that are gone."""
        specs = {(pod.uid, spec.name): (pod, spec) for pod in pods for spec in pod.all_containers}
        live = set()
        for obs in observed:
            found = specs.get((obs.pod_uid, obs.name))
            if not obs.running or found is None or not found[1].probes:
                continue
            live.add(obs.container_id)
            if obs.container_id not in self._tasks:
                self._start(*found, obs)
        for container_id in set(self._tasks) - live:
            self._forget(container_id)

    def health(self) -> dict[str, ContainerHealth]:
        """Verdicts of the probed running instances, by container ID (unprobed ones pass)."""
        return {cid: container_health(trackers) for cid, trackers in self._trackers.items()}

    def unhealthy(self) -> dict[str, str]:
        """Instances a failed liveness or startup probe wants killed: container ID -> reason."""
        return {cid: h.kill_reason for cid, h in self.health().items() if h.kill_reason is not None}

    async def close(self) -> None:
        """Stop every probe task."""
        for container_id in list(self._tasks):
            self._forget(container_id)

    def _start(self, pod: PodSpecView, spec: ContainerSpec, obs: ContainerObservation) -> None:
        trackers = {kind: ProbeTracker.initial(kind, ProbeSettings.from_probe(p)) for kind, p in spec.probes.items()}
        self._trackers[obs.container_id] = trackers
        self._tasks[obs.container_id] = [
            asyncio.create_task(self._run(pod, spec, obs, kind, probe)) for kind, probe in spec.probes.items()
        ]

    def _forget(self, container_id: str) -> None:
        for task in self._tasks.pop(container_id, []):
            task.cancel()
        self._trackers.pop(container_id, None)

    async def _run(
        self, pod: PodSpecView, spec: ContainerSpec, obs: ContainerObservation, kind: str, probe: Mapping[str, Any]
    ) -> None:
        trackers = self._trackers[obs.container_id]
        settings = trackers[kind].settings
        await asyncio.sleep(max(0.0, obs.started_at + settings.initial_delay - self.clock()))
        while not (kind == STARTUP and trackers[kind].result is True):
            if kind == STARTUP or container_health(trackers).started:
                ok = await self._probe(pod, spec, probe, settings.timeout)
                before = trackers[kind]
                trackers[kind] = before.record(ok)
                if trackers[kind].result != before.result:
                    log.info("%s probe of %s/%s %s: %s", kind, pod.name, spec.name, obs.container_id[:12], ok)
                    self.on_change()
            await asyncio.sleep(settings.period)

    async def _probe(
        self, pod: PodSpecView, spec: ContainerSpec, probe: Mapping[str, Any], limit_seconds: float
    ) -> bool:
        """One probe attempt; any error or timeout is a failure."""
        try:
            if "exec" in probe:
                result = await self.runtime.exec(pod.uid, spec.name, probe["exec"]["command"], limit_seconds)
                return result.exit_code == 0 and not result.timed_out
            if "httpGet" in probe:
                return await asyncio.wait_for(self._http_get(spec, probe["httpGet"]), limit_seconds)
            if "tcpSocket" in probe:
                return await asyncio.wait_for(self._tcp(spec, probe["tcpSocket"]), limit_seconds)
        except (OSError, TimeoutError, ValueError, ContainerNotRunning):
            return False
        log.warning("pod %s container %s: unsupported probe handler %s", pod.name, spec.name, sorted(probe))
        return False

    async def _http_get(self, spec: ContainerSpec, get: Mapping[str, Any]) -> bool:
        host, port = get.get("host") or self.pod_ip, _port(spec, get["port"])
        tls = None
        if str(get.get("scheme", "HTTP")).upper() == "HTTPS":
            tls = ssl.create_default_context()
            tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # the kubelet does not verify either
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        try:
            headers = {"Host": f"{host}:{port}", "User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
            headers.update({h["name"]: h["value"] for h in get.get("httpHeaders") or ()})
            request = f"GET {get.get('path') or '/'} HTTP/1.1\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items()
            )
            writer.write((request + "\r\n").encode())
            await writer.drain()
            status_line = (await reader.readline()).split()
            return len(status_line) >= 2 and 200 <= int(status_line[1]) < 400
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _tcp(self, spec: ContainerSpec, tcp: Mapping[str, Any]) -> bool:
        _, writer = await asyncio.open_connection(tcp.get("host") or self.pod_ip, _port(spec, tcp["port"]))
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True


def _port(spec: ContainerSpec, port: int | str) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or port.isdigit():
        return int(port)
    named = (spec.ports or {}).get(port)
    if named is None:
        raise ValueError(f"container {spec.name} has no port named {port!r}")
    return named
