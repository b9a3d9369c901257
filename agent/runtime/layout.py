"""The process runtime's root directory, and its container records on disk.

```
ROOT/pods/<pod uid>/containers/<name>.json   the container's record (ContainerObservation as JSON)
ROOT/pods/<pod uid>/volumes/<volume>/        emptyDir volumes
ROOT/instances/<container id>/               spec.json, state.json, exit.json, shim.log (`launch`)
ROOT/logs/<pod uid>/<name>/<restartCount>.log[.N]   container output (`logfiles`)
```
Records are rewritten atomically on every change, so an agent restarted on the same root finds them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from agent.observation import BackoffState, ContainerObservation, Termination


class RootLayout:
    """Paths under one agent root, and record persistence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for part in ("pods", "instances", "logs"):
            (root / part).mkdir(parents=True, exist_ok=True)

    def volumes_dir(self, pod_uid: str) -> Path:
        return self.root / "pods" / pod_uid / "volumes"

    def instance_dir(self, container_id: str) -> Path:
        return self.root / "instances" / container_id

    def instance_ids(self) -> list[str]:
        return [entry.name for entry in (self.root / "instances").iterdir() if entry.is_dir()]

    def log_file(self, pod_uid: str, name: str, restart_count: int) -> Path:
        return self.root / "logs" / pod_uid / name / f"{restart_count}.log"

    def prune_logs(self, pod_uid: str, name: str, keep_from: int) -> None:
        """Delete the logs of instances before `keep_from` (the previous instance's log is kept)."""
        directory = self.root / "logs" / pod_uid / name
        for path in directory.glob("*.log*"):
            index = path.name.split(".", 1)[0]
            if index.isdigit() and int(index) < keep_from:
                path.unlink(missing_ok=True)

    def save(self, obs: ContainerObservation) -> None:
        """Write one container's record."""
        directory = self.root / "pods" / obs.pod_uid / "containers"
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{obs.name}.json.tmp"
        tmp.write_text(json.dumps(asdict(obs)))
        os.replace(tmp, directory / f"{obs.name}.json")

    def load(self) -> list[ContainerObservation]:
        """Every record under the root (unreadable ones are skipped)."""
        found = []
        for path in (self.root / "pods").glob("*/containers/*.json"):
            try:
                found.append(_observation(json.loads(path.read_text())))
            except (OSError, ValueError, TypeError, KeyError):
                continue
        return found

    def remove_pod(self, pod_uid: str) -> None:
        """Delete a pod's records, volumes and logs."""
        shutil.rmtree(self.root / "pods" / pod_uid, ignore_errors=True)
        shutil.rmtree(self.root / "logs" / pod_uid, ignore_errors=True)


def _observation(raw: dict[str, Any]) -> ContainerObservation:
    obs = ContainerObservation(**raw)
    return replace(
        obs,
        backoff=BackoffState(**raw["backoff"]),
        terminated=Termination(**raw["terminated"]) if raw["terminated"] else None,
        last_terminated=Termination(**raw["last_terminated"]) if raw["last_terminated"] else None,
    )
