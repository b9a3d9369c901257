"""The process runtime: each container is a real process under its own shim (`agent.runtime.shim`).

Starting an instance: build env and command (`agent.env`), volumes (`volumes`), cgroup limits (`limits`,
`cgroups`), write `spec.json` in the instance directory, spawn the shim in its own session and wait for
its one-line handshake. The shim, not the agent, owns the process's pipes and exit status, so containers
survive an agent restart; `adopt` then takes them back (or kills what can no longer be supervised).
Stopping: SIGTERM to the container's process group, SIGKILL to the group and its cgroups after the grace.
Layout of the root directory: `layout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent import logfiles
from agent.env import ContainerConfigError, PodContext, base_env, command_line, container_env
from agent.observation import (
    CONFIG_ERROR,
    START_ERROR,
    START_FAILURE_EXIT_CODE,
    BackoffState,
    ContainerObservation,
    Termination,
    exit_reason,
)
from agent.runtime import cgroups, procfs
from agent.runtime.base import AdoptReport, ContainerNotRunning, ExecResult, Runtime, StartResult
from agent.runtime.host import HostFeatures, detect, helper_command, helper_env
from agent.runtime.launch import EXIT, SPEC, STATE, LaunchSpec, ShimExit, ShimState, read, write
from agent.runtime.layout import RootLayout
from agent.runtime.limits import cgroup_settings
from agent.runtime.volumes import plan_mounts
from agent.views import PodSpecView

LOST_REASON = "ContainerStatusUnknown"
_KILLED_EXIT = 128 + signal.SIGKILL


@dataclass(frozen=True)
class ProcessOptions:
    """Tunables of the process runtime."""

    log_max_size: int = 10 * 1024 * 1024  # bytes per log file before rotation (kubelet containerLogMaxSize)
    log_max_files: int = 5  # files kept per instance log, current one included (containerLogMaxFiles)
    pids_limit: int | None = None  # pids.max per container (kubelet --pod-max-pids); None: unlimited
    start_timeout: float = 10.0  # seconds to wait for a shim's start handshake


@dataclass
class _Instance:
    """A running instance the agent supervises."""

    key: tuple[str, str]
    container_id: str
    state: ShimState
    cgroups: cgroups.ContainerCgroups
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    term_sent: bool = False
    watcher: asyncio.Task[None] | None = None


class ProcessRuntime(Runtime):
    """Runs containers as supervised host processes under `root`."""

    def __init__(
        self, root: Path, context: PodContext, features: HostFeatures, options: ProcessOptions | None = None
    ) -> None:
        super().__init__()
        self.layout = RootLayout(root)
        self.context = context
        self.features = features
        self.options = options or ProcessOptions()
        self._instances: dict[str, _Instance] = {}
        self._starting: dict[tuple[str, str], asyncio.Task[StartResult]] = {}

    @classmethod
    async def create(cls, root: Path, context: PodContext, options: ProcessOptions | None = None) -> ProcessRuntime:
        """Detect the host's features (cgroups under a directory unique to `root`) and build the runtime."""
        root = await asyncio.to_thread(root.resolve)
        tag = hashlib.sha256(str(root).encode()).hexdigest()[:12]
        return cls(root, context, await detect(tag), options)

    def _store(self, obs: ContainerObservation) -> None:
        super()._store(obs)
        self.layout.save(obs)

    async def start_container(self, pod: PodSpecView, name: str, backoff: BackoffState | None = None) -> StartResult:
        """Start an instance; a cancelled caller does not interrupt it (the process would run unwatched)."""
        key = (pod.uid, name)
        task = asyncio.create_task(self._start(pod, name, backoff))
        self._starting[key] = task
        task.add_done_callback(lambda _: self._starting.pop(key, None))
        return await asyncio.shield(task)

    async def _start(self, pod: PodSpecView, name: str, backoff: BackoffState | None) -> StartResult:
        obs = self._new_instance(pod, name, secrets.token_hex(32), time.time(), backoff)
        self.layout.prune_logs(pod.uid, name, keep_from=obs.restart_count - 1)
        try:
            launch, warnings = self._launch_spec(pod, name, obs)
        except (ContainerConfigError, ValueError, OSError) as error:
            self._store(obs)
            self._failed_start(obs, CONFIG_ERROR, str(error))
            return StartResult(obs.container_id)
        directory = self.layout.instance_dir(obs.container_id)
        directory.mkdir(parents=True)
        write(directory, SPEC, launch)
        self._store(obs)
        try:
            state = await self._spawn(directory, obs, launch.cgroups)
        except (OSError, TimeoutError, ValueError) as error:
            await self._kill_leftovers(launch, read(directory, STATE, ShimState))
            shutil.rmtree(directory, ignore_errors=True)
            self._failed_start(obs, START_ERROR, f"container shim failed: {error}")
            return StartResult(obs.container_id, tuple(warnings))
        if state is not None:
            self._store(replace(obs, started_at=state.started_at))
        return StartResult(obs.container_id, tuple(warnings))

    async def stop_container(self, pod_uid: str, name: str, grace: float) -> None:
        starting = self._starting.get((pod_uid, name))
        if starting is not None:
            await asyncio.wait([starting])
        obs = self._containers.get((pod_uid, name))
        instance = self._instances.get(obs.container_id) if obs is not None and obs.running else None
        if instance is None:
            return
        if not instance.term_sent:
            instance.term_sent = True
            procfs.kill_group(instance.state.pid, instance.state.pid_start, signal.SIGTERM)
        try:
            await asyncio.wait_for(instance.exited.wait(), grace)
        except TimeoutError:
            procfs.kill_group(instance.state.pid, instance.state.pid_start, signal.SIGKILL)
            await asyncio.to_thread(cgroups.kill_all, instance.cgroups)
            await instance.exited.wait()

    async def remove_pod(self, pod_uid: str) -> None:
        await self.stop_pod(pod_uid, 0)
        for key in [key for key in self._containers if key[0] == pod_uid]:
            del self._containers[key]
        await asyncio.to_thread(self.layout.remove_pod, pod_uid)

    async def exec(self, pod_uid: str, name: str, argv: Sequence[str], limit_seconds: float) -> ExecResult:
        obs = self._containers.get((pod_uid, name))
        if obs is None or obs.container_id not in self._instances:
            raise ContainerNotRunning(f"container {name!r} of pod {pod_uid} is not running")
        directory = str(self.layout.instance_dir(obs.container_id))
        proc = await asyncio.create_subprocess_exec(
            *helper_command("agent.runtime.shim", "exec", directory, *argv),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=helper_env(),
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), limit_seconds)
        except TimeoutError:
            return ExecResult(_KILLED_EXIT, timed_out=True)
        finally:
            if proc.returncode is None:  # timed out or cancelled: the command goes too
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        assert proc.returncode is not None
        return ExecResult(proc.returncode, out, err)

    def log_path(self, pod_uid: str, name: str, previous: bool = False) -> Path | None:
        obs = self._containers.get((pod_uid, name))
        if obs is None:
            return None
        index = obs.restart_count - 1 if previous else obs.restart_count
        path = self.layout.log_file(pod_uid, name, index)
        return path if index >= 0 and logfiles.segments(path) else None

    async def adopt(self) -> AdoptReport:
        adopted, exited, killed = [], [], []
        records = self.layout.load()
        for record in records:
            self._containers[_key(record)] = record
        running = {record.container_id: record for record in records if record.running}
        for container_id in self.layout.instance_ids():
            directory = self.layout.instance_dir(container_id)
            spec, state = read(directory, SPEC, LaunchSpec), read(directory, STATE, ShimState)
            obs = running.pop(container_id, None)
            if obs is None:  # no record points here: a start the agent did not finish recording
                await self._kill_leftovers(spec, state)
                shutil.rmtree(directory, ignore_errors=True)
                killed.append(container_id)
            elif read(directory, EXIT, ShimExit) is not None:
                self._collect(obs, directory, None)
                exited.append(container_id)
            elif spec is not None and state is not None and procfs.is_alive(state.shim_pid, state.shim_start):
                self._supervise(_Instance(_key(obs), container_id, state, spec.cgroups))
                adopted.append(container_id)
            else:
                await self._kill_leftovers(spec, state)
                self._collect(obs, directory, "the container's shim was gone after an agent restart")
                killed.append(container_id)
        for obs in running.values():  # running per its record, but no instance directory at all
            self._collect(obs, self.layout.instance_dir(obs.container_id), "no trace of the container was left")
            killed.append(obs.container_id)
        return AdoptReport(tuple(adopted), tuple(exited), tuple(killed))

    async def close(self) -> None:
        """Stop watching; containers keep running. Instances whose process already ended are seen out first."""
        await asyncio.gather(*self._starting.values(), return_exceptions=True)
        instances = list(self._instances.values())
        ending = [i.watcher for i in instances if i.watcher and not procfs.is_alive(i.state.pid, i.state.pid_start)]
        if ending:
            await asyncio.wait(ending, timeout=2)
        watchers = [i.watcher for i in instances if i.watcher is not None]
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        cgroups.remove_bases(self.features.cgroups)

    def _launch_spec(self, pod: PodSpecView, name: str, obs: ContainerObservation) -> tuple[LaunchSpec, list[str]]:
        spec = pod.container(name)
        defined = container_env(pod, spec, self.context)
        argv = command_line(spec, defined)
        mounts, warnings = plan_mounts(pod, spec, self.layout.volumes_dir(pod.uid), self.features.mount_namespace)
        settings, limit_warnings = cgroup_settings(spec, self.features.cgroups.v1, self.options.pids_limit)
        log = self.layout.log_file(pod.uid, name, obs.restart_count)
        log.parent.mkdir(parents=True, exist_ok=True)
        groups, write_warnings = cgroups.create(self.features.cgroups, obs.container_id, settings)
        launch = LaunchSpec(
            argv=argv,
            env={**base_env(pod), **defined},
            cwd=spec.working_dir or "/",
            log_path=str(log),
            log_max_size=self.options.log_max_size,
            log_max_files=self.options.log_max_files,
            hostname=pod.hostname[:63] if self.features.uts_namespace else None,
            mounts=mounts,
            cgroups=groups,
            uid=spec.run_as_user,
            gid=spec.run_as_group,
        )
        return launch, warnings + limit_warnings + write_warnings

    async def _spawn(
        self, directory: Path, obs: ContainerObservation, groups: cgroups.ContainerCgroups
    ) -> ShimState | None:
        """Start the shim; its state, or None after recording the start error it reported."""
        shim_log = os.open(directory / "shim.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        try:
            proc = await asyncio.create_subprocess_exec(
                *helper_command("agent.runtime.shim", "run", str(directory)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=shim_log,
                env=helper_env(),
                start_new_session=True,
                cwd="/",
            )
        finally:
            os.close(shim_log)
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), self.options.start_timeout)
        finally:
            await proc.wait()  # the shim detaches at once; this is its first, short-lived process
        if not line:
            tail = (directory / "shim.log").read_text(errors="replace")[-500:]
            raise OSError(f"the shim exited before starting the container: {tail.strip()}")
        handshake = json.loads(line)
        if "error" in handshake:
            self._collect(obs, directory, None)
            return None
        state = ShimState(**handshake)
        self._supervise(_Instance(_key(obs), obs.container_id, state, groups))
        return state

    def _supervise(self, instance: _Instance) -> None:
        """Watch a running instance until its shim exits, then record how it ended."""
        self._instances[instance.container_id] = instance
        instance.watcher = asyncio.create_task(self._watch(instance))

    async def _watch(self, instance: _Instance) -> None:
        await _wait_exit(instance.state.shim_pid, instance.state.shim_start)
        obs = self._containers.get(instance.key)
        if obs is not None:
            self._collect(obs, self.layout.instance_dir(instance.container_id), None)

    def _collect(self, obs: ContainerObservation, directory: Path, lost: str | None) -> None:
        """Record the end of instance `obs` from its exit.json (or as lost), and drop its directory."""
        instance = self._instances.pop(obs.container_id, None)
        current = self._containers.get(_key(obs))
        if current is not None and current.container_id == obs.container_id and current.running:
            self._finish(current, _termination(current, read(directory, EXIT, ShimExit), lost))
        shutil.rmtree(directory, ignore_errors=True)
        if instance is not None:
            instance.exited.set()

    def _failed_start(self, obs: ContainerObservation, reason: str, message: str) -> None:
        now = time.time()
        self._finish(obs, Termination(obs.container_id, START_FAILURE_EXIT_CODE, reason, now, now, message))

    async def _kill_leftovers(self, spec: LaunchSpec | None, state: ShimState | None) -> None:
        """Kill whatever an unrecorded or unsupervised instance left running, and wait until it is gone."""
        if state is not None:
            procfs.kill_group(state.pid, state.pid_start, signal.SIGKILL)
            if procfs.is_alive(state.shim_pid, state.shim_start):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(state.shim_pid, signal.SIGKILL)
            for pid, started in ((state.pid, state.pid_start), (state.shim_pid, state.shim_start)):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_wait_exit(pid, started), 5)
        if spec is not None:
            await asyncio.to_thread(cgroups.kill_all, spec.cgroups)
            await asyncio.to_thread(cgroups.remove, spec.cgroups)


def _key(obs: ContainerObservation) -> tuple[str, str]:
    return (obs.pod_uid, obs.name)


def _termination(obs: ContainerObservation, end: ShimExit | None, lost: str | None) -> Termination:
    if end is None:
        message = lost or "the container's shim exited without recording the exit"
        return Termination(obs.container_id, _KILLED_EXIT, LOST_REASON, obs.started_at, time.time(), message)
    if end.start_error is not None:
        return Termination(
            obs.container_id,
            START_FAILURE_EXIT_CODE,
            START_ERROR,
            end.finished_at,
            end.finished_at,
            end.start_error,
        )
    reason = exit_reason(end.exit_code, end.oom_killed)
    return Termination(obs.container_id, end.exit_code, reason, obs.started_at, end.finished_at)


async def _wait_exit(pid: int, started: int | None) -> None:
    """Wait for a process that is not our child (a shim) to exit."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not procfs.is_alive(pid, started):  # checked after opening: the pidfd is the right process
            return
        loop = asyncio.get_running_loop()
        gone = asyncio.Event()
        loop.add_reader(fd, gone.set)
        try:
            await gone.wait()
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)
