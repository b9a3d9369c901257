"""Volumes and volumeMounts -> host directories and bind mounts (filesystem only, no mounting here).

- `emptyDir`: a directory under the pod's directory in the agent root, mode 0777, removed with the pod;
  `medium: Memory` and `sizeLimit` are not honoured (warnings).
- `hostPath`: the host path itself, checked or created per `type` (`DirectoryOrCreate`, `FileOrCreate`
  create; `Directory`, `File`, `Socket`, `CharDevice`, `BlockDevice` must exist).
- other volume types: not mounted (warning).

Each mount becomes a bind mount the shim makes in the container's private mount namespace (`subPath`
and `readOnly` honoured); a missing mount point is created on the host as an empty directory or file.
Without a mount namespace nothing is mounted: a warning names the host directory holding the volume.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.env import ContainerConfigError
from agent.runtime.launch import Mount
from agent.views import ContainerSpec, PodSpecView

_MUST_EXIST = {
    "Directory": stat.S_ISDIR,
    "File": stat.S_ISREG,
    "Socket": stat.S_ISSOCK,
    "CharDevice": stat.S_ISCHR,
    "BlockDevice": stat.S_ISBLK,
}


def plan_mounts(
    pod: PodSpecView, spec: ContainerSpec, pod_volumes_dir: Path, mount_namespace: bool
) -> tuple[list[Mount], list[str]]:
    """The bind mounts of one container and the warnings; ContainerConfigError when a hostPath check fails."""
    mounts: list[Mount] = []
    warnings: list[str] = []
    volumes = pod.volumes or {}
    for mount in spec.volume_mounts:
        volume = volumes.get(mount.name)
        if volume is None:
            raise ContainerConfigError(f"volumeMount {mount.name!r}: no such volume in the pod")
        source = _volume_source(volume, pod_volumes_dir, warnings)
        if source is None:
            continue
        if mount.sub_path:
            source = source / mount.sub_path
            if not source.exists():
                source.mkdir(parents=True, mode=0o777)
        if not mount_namespace:
            warnings.append(
                f"container {spec.name}: volumeMount {mount.mount_path} not realised (no mount namespace "
                f"here); volume {mount.name!r} is at {source}"
            )
            continue
        mounts.append(Mount(str(source), mount.mount_path, mount.read_only))
    return mounts, warnings


def _volume_source(volume: Mapping[str, Any], volumes_dir: Path, warnings: list[str]) -> Path | None:
    name = volume["name"]
    if "emptyDir" in volume:
        options = volume["emptyDir"] or {}
        if options.get("medium") == "Memory" or options.get("sizeLimit"):
            warnings.append(f"volume {name}: emptyDir medium/sizeLimit not honoured (a plain directory)")
        path = volumes_dir / name
        if not path.exists():
            path.mkdir(parents=True)
            path.chmod(0o777)
        return path
    if "hostPath" in volume:
        return _host_path(name, volume["hostPath"])
    kind = next((key for key in volume if key != "name"), "unknown")
    warnings.append(f"volume {name}: type {kind} is not supported by the miniplane agent; not mounted")
    return None


def _host_path(name: str, options: Mapping[str, Any]) -> Path:
    path = Path(options["path"])
    kind = options.get("type") or ""
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o644, exist_ok=True)
    elif kind in _MUST_EXIST:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = 0
        if not _MUST_EXIST[kind](mode):
            raise ContainerConfigError(f"volume {name}: hostPath type check failed: {path} is not a {kind}")
    return path
