"""A runtime that runs nothing: containers behave as their pod's annotations say (Nomad's mock_driver).

Annotations (`fake.miniplane.io/<key>` for every container, `fake.miniplane.io/<container>.<key>` for one):

| key              | meaning                                                                     |
|------------------|-----------------------------------------------------------------------------|
| `run-for`        | seconds until the process exits on its own (default: runs until stopped)    |
| `exit-code`      | its exit code then (default 0)                                              |
| `oom`            | `"true"`: it is OOM-killed then (exit 137, reason OOMKilled)                |
| `start-error`    | the process never starts: this message, reason StartError                   |
| `ignore-sigterm` | `"true"`: a stop waits out the grace period, then SIGKILL (exit 137)        |
| `output`         | text written to the log at start (needs a `log_root`)                       |
| `exec-exit-code` | exit code of every exec in the container (default 0)                        |

Time comes from `clock`, so unit tests step it by hand; a stop without `ignore-sigterm` is immediate
(SIGTERM honoured: exit 143).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agent import logfiles
from agent.observation import (
    OOM_KILLED,
    START_ERROR,
    START_FAILURE_EXIT_CODE,
    BackoffState,
    ContainerObservation,
    Termination,
    exit_reason,
)
from agent.runtime.base import AdoptReport, ContainerNotRunning, ExecResult, Runtime, StartResult
from agent.views import PodSpecView

PREFIX = "fake.miniplane.io/"
_SIGTERM_EXIT, _SIGKILL_EXIT = 143, 137


class FakeRuntime(Runtime):
    """Simulated containers driven by annotations and an injectable clock."""

    def __init__(self, clock: Callable[[], float] = time.time, log_root: Path | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.log_root = log_root
        self._pods: dict[str, PodSpecView] = {}

    def observe(self) -> list[ContainerObservation]:
        """Records, with every process whose `run-for` has elapsed turned into an exit."""
        now = self.clock()
        for obs in list(self._containers.values()):
            run_for = self._setting(obs, "run-for")
            if obs.running and run_for is not None and now >= obs.started_at + float(run_for):
                oom = self._setting(obs, "oom") == "true"
                code = _SIGKILL_EXIT if oom else int(self._setting(obs, "exit-code") or 0)
                self._exit(obs, code, obs.started_at + float(run_for), OOM_KILLED if oom else None)
        return super().observe()

    async def start_container(self, pod: PodSpecView, name: str, backoff: BackoffState | None = None) -> StartResult:
        now = self.clock()
        self._pods[pod.uid] = pod
        obs = self._new_instance(pod, name, secrets.token_hex(32), now, backoff)
        self._store(obs)
        error = self._setting(obs, "start-error")
        if error is not None:
            term = Termination(obs.container_id, START_FAILURE_EXIT_CODE, START_ERROR, now, now, error)
            self._finish(obs, term)
        elif (output := self._setting(obs, "output")) is not None and self.log_root is not None:
            path = self._log_dir(pod.uid, name) / f"{obs.restart_count}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            now_ns = time.time_ns()
            path.write_bytes(
                b"".join(logfiles.encode(now_ns, "stdout", line.encode(), False) for line in output.splitlines())
            )
        return StartResult(obs.container_id)

    async def stop_container(self, pod_uid: str, name: str, grace: float) -> None:
        obs = self._containers.get((pod_uid, name))
        if obs is None or not obs.running:
            return
        if self._setting(obs, "ignore-sigterm") != "true":
            self._exit(obs, _SIGTERM_EXIT, self.clock())
            return
        await asyncio.sleep(grace)
        still = self._containers.get((pod_uid, name))
        if still is not None and still.running and still.container_id == obs.container_id:
            self._exit(still, _SIGKILL_EXIT, self.clock())

    async def remove_pod(self, pod_uid: str) -> None:
        self._pods.pop(pod_uid, None)
        for key in [key for key in self._containers if key[0] == pod_uid]:
            del self._containers[key]
        if self.log_root is not None:
            shutil.rmtree(self.log_root / pod_uid, ignore_errors=True)

    async def exec(self, pod_uid: str, name: str, argv: Sequence[str], limit_seconds: float) -> ExecResult:
        obs = self._containers.get((pod_uid, name))
        if obs is None or not obs.running:
            raise ContainerNotRunning(f"container {name!r} is not running")
        return ExecResult(int(self._setting(obs, "exec-exit-code") or 0))

    def log_path(self, pod_uid: str, name: str, previous: bool = False) -> Path | None:
        obs = self._containers.get((pod_uid, name))
        if obs is None or self.log_root is None:
            return None
        index = obs.restart_count - 1 if previous else obs.restart_count
        path = self._log_dir(pod_uid, name) / f"{index}.log"
        return path if index >= 0 and path.exists() else None

    async def adopt(self) -> AdoptReport:
        """Nothing survives a fake agent's restart."""
        return AdoptReport()

    async def close(self) -> None:
        """Nothing to release."""

    def _exit(self, obs: ContainerObservation, code: int, at: float, reason: str | None = None) -> None:
        reason = reason or exit_reason(code, oom_killed=False)
        self._finish(obs, Termination(obs.container_id, code, reason, obs.started_at, at))

    def _setting(self, obs: ContainerObservation, key: str) -> str | None:
        annotations = self._pods[obs.pod_uid].annotations or {}
        return annotations.get(f"{PREFIX}{obs.name}.{key}", annotations.get(PREFIX + key))

    def _log_dir(self, pod_uid: str, name: str) -> Path:
        assert self.log_root is not None
        return self.log_root / pod_uid / name
