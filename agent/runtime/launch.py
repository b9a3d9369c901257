"""The files the agent and a container's shim exchange in the instance directory (standard library only).

- `spec.json` (agent -> shim): everything needed to start the process (`LaunchSpec`);
- `state.json` (shim): who runs, with start times so a reused PID is never mistaken for ours (`ShimState`);
- `exit.json` (shim): how the process ended (`ShimExit`); its presence means the instance is over.

Every file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agent.runtime.cgroups import ContainerCgroups

SPEC, STATE, EXIT = "spec.json", "state.json", "exit.json"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Mount:
    """A bind mount made in the container's mount namespace."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class LaunchSpec:
    """How to start one container instance."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    log_path: str
    log_max_size: int
    log_max_files: int
    hostname: str | None = None  # set in a new UTS namespace; None: no UTS namespace
    mounts: list[Mount] = field(default_factory=list)  # made in a new mount namespace when not empty
    cgroups: ContainerCgroups = field(default_factory=ContainerCgroups)
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class ShimState:
    """The shim and the container's main process (leader of its own session and process group)."""

    shim_pid: int
    shim_start: int | None
    pid: int
    pid_start: int | None
    started_at: float


@dataclass(frozen=True)
class ShimExit:
    """How the instance ended: an exit code (128+N after signal N), or a start error."""

    finished_at: float
    exit_code: int = 0
    oom_killed: bool = False
    start_error: str | None = None


def write(directory: Path, name: str, value: Any) -> None:
    """Atomically write a dataclass as JSON."""
    tmp = directory / f".{name}.tmp"
    tmp.write_text(json.dumps(asdict(value)))
    os.replace(tmp, directory / name)


def read(directory: Path, name: str, kind: type[_T]) -> _T | None:
    """Read a file written by `write`, or None when it is absent or unreadable."""
    try:
        raw = json.loads((directory / name).read_text())
    except (OSError, ValueError):
        return None
    if kind is LaunchSpec:
        raw["mounts"] = [Mount(**m) for m in raw["mounts"]]
        raw["cgroups"] = ContainerCgroups(**{**raw["cgroups"], "dirs": tuple(raw["cgroups"]["dirs"])})
    return kind(**raw)
