"""The runtime contract: what the sync loop, probes and log serving need from a container runtime.

A runtime keeps one record per (pod UID, container name): the current instance and the previous one's
termination, the restart count and the back-off. `start_container` starts the first instance or, when the
container has exited, the next one. Every runtime passes the same contract suite
(`tests/integration/agent_runtime/contract.py`).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from agent.observation import BackoffState, ContainerObservation, Termination
from agent.views import PodSpecView


@dataclass(frozen=True)
class StartResult:
    """The new instance, and what the host could not enforce for it (the caller turns these into Events)."""

    container_id: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecResult:
    """Outcome of a command run in a container's environment."""

    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False


@dataclass(frozen=True)
class AdoptReport:
    """What `adopt` found after an agent restart, by container ID."""

    adopted: tuple[str, ...] = ()  # still running: watched again
    exited: tuple[str, ...] = ()  # finished while the agent was away: exit recorded
    killed: tuple[str, ...] = ()  # could not be supervised any more: killed, never left orphaned


class ContainerNotRunning(Exception):
    """The container has no running instance (exec, or a second start while running)."""


class Runtime(ABC):
    """Runs the containers of the pods bound to this node."""

    def __init__(self) -> None:
        self._containers: dict[tuple[str, str], ContainerObservation] = {}
        self._changed = asyncio.Event()

    def observe(self) -> list[ContainerObservation]:
        """The current record of every container the runtime knows."""
        return list(self._containers.values())

    async def wait_changed(self) -> None:
        """Return once a container has started or exited since the last call."""
        await self._changed.wait()
        self._changed.clear()

    @abstractmethod
    async def start_container(self, pod: PodSpecView, name: str, backoff: BackoffState | None = None) -> StartResult:
        """Start container `name` of `pod`: the first instance, or the next once it exited (with `backoff`).

        A container that cannot be built or exec'd becomes an instance that ended at once with a
        start-failure reason. RuntimeError when the container is still running.
        """

    @abstractmethod
    async def stop_container(self, pod_uid: str, name: str, grace: float) -> None:
        """SIGTERM the container's processes, SIGKILL them after `grace` s; return once it has exited."""

    async def stop_pod(self, pod_uid: str, grace: float) -> None:
        """Stop every running container of the pod, concurrently."""
        running = [obs.name for obs in self.observe() if obs.pod_uid == pod_uid and obs.running]
        await asyncio.gather(*(self.stop_container(pod_uid, name, grace) for name in running))

    @abstractmethod
    async def remove_pod(self, pod_uid: str) -> None:
        """Forget a stopped pod: its records, logs and emptyDir volumes."""

    @abstractmethod
    async def exec(self, pod_uid: str, name: str, argv: Sequence[str], limit_seconds: float) -> ExecResult:
        """Run `argv` in the running container's environment (env, cwd, namespaces, cgroups), killed after
        `limit_seconds`. ContainerNotRunning when there is no running instance."""

    @abstractmethod
    def log_path(self, pod_uid: str, name: str, previous: bool = False) -> Path | None:
        """The current log file of the container's instance (or of the previous one), if any."""

    @abstractmethod
    async def adopt(self) -> AdoptReport:
        """After an agent restart: take back the containers left running, or kill them."""

    @abstractmethod
    async def close(self) -> None:
        """Release the runtime's own resources; containers keep running (see `stop_all`)."""

    async def stop_all(self, grace: float) -> None:
        """Stop every running container (agent shutdown that must leave no process behind)."""
        pods = {obs.pod_uid for obs in self.observe() if obs.running}
        await asyncio.gather(*(self.stop_pod(uid, grace) for uid in pods))

    def _new_instance(
        self, pod: PodSpecView, name: str, container_id: str, started_at: float, backoff: BackoffState | None
    ) -> ContainerObservation:
        """The record of a new instance of `name`, carrying over its history."""
        before = self._containers.get((pod.uid, name))
        if before is not None and before.running:
            raise RuntimeError(f"container {name!r} of pod {pod.namespace}/{pod.name} is already running")
        return ContainerObservation(
            pod_uid=pod.uid,
            name=name,
            container_id=container_id,
            image=pod.container(name).image,
            started_at=started_at,
            restart_count=before.restart_count + 1 if before else 0,
            last_terminated=before.terminated if before else None,
            backoff=backoff or (before.backoff if before else BackoffState()),
            grace_period=pod.grace_period,
        )

    def _store(self, obs: ContainerObservation) -> None:
        """Record a container's new state and wake `wait_changed`."""
        self._containers[(obs.pod_uid, obs.name)] = obs
        self._changed.set()

    def _finish(self, obs: ContainerObservation, termination: Termination) -> ContainerObservation:
        """Record that the instance `obs` ended."""
        done = replace(obs, terminated=termination)
        self._store(done)
        return done
