"""Per-container cgroups: v1 `memory`/`cpu`/`pids` for limits, the v2 hierarchy for tracking and killing.

Standard library only: the container shim imports it. Each agent nests its cgroups under the agent's own
cgroup in every hierarchy (read from /proc/self/cgroup, mount points from /proc/self/mountinfo), in a
directory `miniplane-<tag>` unique to its root dir, one child per container instance. What cannot be
created (no hierarchy, read-only, no permission) is simply absent from `CgroupBases`; callers report it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field

V1_CONTROLLERS = ("memory", "cpu", "pids")


@dataclass(frozen=True)
class CgroupBases:
    """This agent's base directory in each usable hierarchy."""

    v1: dict[str, str] = field(default_factory=dict)  # controller -> dir
    v2: str | None = None  # unified hierarchy dir, used when it offers `cgroup.kill`


@dataclass(frozen=True)
class ContainerCgroups:
    """The cgroup directories of one container instance."""

    dirs: tuple[str, ...] = ()
    kill_dir: str | None = None  # v2 dir: writing 1 to cgroup.kill kills every process in it
    memory_dir: str | None = None  # v1 memory dir: OOM kills are counted there


def discover(tag: str) -> CgroupBases:
    """Find and create this agent's base directories."""
    own_v1, own_v2 = _own_paths()
    v1: dict[str, str] = {}
    v2 = None
    for mount_point, root, fstype, options in _cgroup_mounts():
        if fstype == "cgroup2" and own_v2 is not None and v2 is None:
            base = _make_base(mount_point, root, own_v2, tag)
            if base and os.path.exists(os.path.join(base, "cgroup.kill")):
                v2 = base
            elif base:
                _rmdir(base)
        elif fstype == "cgroup":
            for controller in set(options) & set(V1_CONTROLLERS) & set(own_v1):
                base = _make_base(mount_point, root, own_v1[controller], tag)
                if base:
                    v1[controller] = base
    return CgroupBases(v1, v2)


def create(bases: CgroupBases, name: str, settings: dict[str, dict[str, str]]) -> tuple[ContainerCgroups, list[str]]:
    """Make the cgroups of one instance and write `settings` (controller -> file -> value).

    Returns the cgroups and a warning per setting that could not be written."""
    warnings: list[str] = []
    dirs: list[str] = []
    for controller, base in sorted(bases.v1.items()):
        path = os.path.join(base, name)
        os.makedirs(path, exist_ok=True)
        dirs.append(path)
        for key, value in settings.get(controller, {}).items():
            try:
                with open(os.path.join(path, key), "w") as out:
                    out.write(value)
            except OSError as error:
                warnings.append(f"could not set {controller} {key}={value}: {error.strerror}")
    kill_dir = None
    if bases.v2 is not None:
        kill_dir = os.path.join(bases.v2, name)
        os.makedirs(kill_dir, exist_ok=True)
        dirs.append(kill_dir)
    memory = bases.v1.get("memory")
    return ContainerCgroups(tuple(dirs), kill_dir, os.path.join(memory, name) if memory else None), warnings


def join(cgroups: ContainerCgroups, pid: int) -> None:
    """Move process `pid` into every cgroup of the instance."""
    for path in cgroups.dirs:
        with open(os.path.join(path, "cgroup.procs"), "w") as procs:
            procs.write(str(pid))


def kill_all(cgroups: ContainerCgroups) -> None:
    """SIGKILL every process in the instance's cgroups, forks racing the kill included."""
    if cgroups.kill_dir is not None:
        with contextlib.suppress(OSError), open(os.path.join(cgroups.kill_dir, "cgroup.kill"), "w") as kill:
            kill.write("1")
    for _ in range(100):
        pids = _procs(cgroups)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def oom_killed(cgroups: ContainerCgroups) -> bool:
    """True when the memory controller OOM-killed a process of the instance."""
    if cgroups.memory_dir is None:
        return False
    try:
        with open(os.path.join(cgroups.memory_dir, "memory.oom_control")) as control:
            counters = dict(line.split() for line in control if line.strip())
    except OSError:
        return False
    return int(counters.get("oom_kill", "0")) > 0


def remove(cgroups: ContainerCgroups) -> None:
    """Remove the instance's (empty) cgroups; processes just killed may take a moment to leave."""
    for path in cgroups.dirs:
        for _ in range(50):
            if _rmdir(path):
                break
            time.sleep(0.01)


def remove_bases(bases: CgroupBases) -> None:
    """Remove the agent's base directories if no instance is left in them."""
    for path in [*bases.v1.values(), *([bases.v2] if bases.v2 else [])]:
        _rmdir(path)


def _procs(cgroups: ContainerCgroups) -> set[int]:
    pids: set[int] = set()
    for path in cgroups.dirs:
        with contextlib.suppress(OSError), open(os.path.join(path, "cgroup.procs")) as procs:
            pids.update(int(line) for line in procs if line.strip())
    return pids


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _make_base(mount_point: str, root: str, own: str, tag: str) -> str | None:
    if not (own + "/").startswith(root.rstrip("/") + "/"):
        return None  # our cgroup is outside what is mounted here
    relative = own[len(root.rstrip("/")) :].lstrip("/")
    base = os.path.join(mount_point, relative, f"miniplane-{tag}")
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        return None
    return base


def _own_paths() -> tuple[dict[str, str], str | None]:
    v1: dict[str, str] = {}
    v2 = None
    with open("/proc/self/cgroup") as lines:
        for line in lines:
            hierarchy, controllers, path = line.rstrip("\n").split(":", 2)
            if hierarchy == "0" and not controllers:
                v2 = path
            for controller in controllers.split(","):
                v1[controller] = path
    return v1, v2


def _cgroup_mounts() -> list[tuple[str, str, str, list[str]]]:
    """(mount point, mounted root, fs type, super options) of every cgroup mount."""
    mounts = []
    with open("/proc/self/mountinfo") as lines:
        for line in lines:
            before, _, after = line.partition(" - ")
            fields, tail = before.split(), after.split()
            if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                mounts.append((fields[4], fields[3], tail[0], tail[2].split(",")))
    return mounts
