"""What isolation this host offers the process runtime, detected once at start."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.runtime import cgroups

AGENT_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def helper_command(module: str, *args: str) -> list[str]:
    """Command line running one of the agent's standalone helper modules with this interpreter."""
    return [sys.executable, "-s", "-m", module, *args]


def helper_env() -> dict[str, str]:
    """Environment of a helper process: just enough to import the agent package."""
    return {"PYTHONPATH": AGENT_PACKAGE_PARENT, "PATH": "/usr/local/bin:/usr/bin:/bin"}


@dataclass(frozen=True)
class HostFeatures:
    """Usable cgroups and namespaces."""

    cgroups: cgroups.CgroupBases
    uts_namespace: bool
    mount_namespace: bool

    def warnings(self) -> list[str]:
        """What the runtime cannot do on this host, one sentence each."""
        found = [
            f"no {controller} cgroup: container {what} are not enforced"
            for controller, what in (("memory", "memory limits"), ("cpu", "cpu limits and requests"))
            if controller not in self.cgroups.v1
        ]
        if self.cgroups.v2 is None and "pids" not in self.cgroups.v1:
            found.append("no cgroup to track containers: a process that leaves its process group may outlive it")
        if not self.uts_namespace:
            found.append("no UTS namespace: containers see the host's hostname, not the pod's")
        if not self.mount_namespace:
            found.append("no mount namespace: volumeMounts are not mounted (volumes stay at their host paths)")
        return found


async def detect(tag: str) -> HostFeatures:
    """Create this agent's cgroup bases and find which namespaces a child process may create."""
    bases = await asyncio.to_thread(cgroups.discover, tag)
    probe = await asyncio.create_subprocess_exec(
        *helper_command("agent.runtime.sandbox"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=helper_env(),
    )
    out, _ = await probe.communicate()
    try:
        found = json.loads(out)
    except ValueError:
        found = {}
    return HostFeatures(bases, bool(found.get("uts")), bool(found.get("mount")))
