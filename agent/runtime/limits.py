"""Container resources -> cgroup v1 settings, and what cannot be enforced (pure).

- `limits.memory` -> `memory.limit_in_bytes` (the kernel OOM-kills past it);
- `limits.cpu` -> CFS quota over a 100 ms period; `requests.cpu` -> `cpu.shares` (1024 per core);
- the runtime's pod PID limit (kubelet `--pod-max-pids`) -> `pids.max`;
- any other limit (ephemeral-storage, hugepages, devices) is not enforced: one warning each.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from agent.views import ContainerSpec
from miniplane.resources.quantity import parse_quantity

CFS_PERIOD_US = 100_000


def cgroup_settings(
    spec: ContainerSpec, available: Collection[str], pids_limit: int | None = None
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """(controller -> file -> value, warnings) for one container, given the usable v1 controllers."""
    settings: dict[str, dict[str, str]] = {}
    warnings: list[str] = []
    limits, requests = spec.limits or {}, spec.requests or {}

    def want(controller: str, what: str, values: dict[str, str]) -> None:
        if controller in available:
            settings.setdefault(controller, {}).update(values)
        else:
            warnings.append(f"container {spec.name}: {what} not enforced: no {controller} cgroup here")

    if "memory" in limits:
        limit = math.ceil(parse_quantity(limits["memory"]))
        want("memory", f"memory limit {limits['memory']}", {"memory.limit_in_bytes": str(limit)})
    if "cpu" in requests:
        shares = max(2, math.ceil(parse_quantity(requests["cpu"]) * 1024))
        want("cpu", f"cpu request {requests['cpu']}", {"cpu.shares": str(shares)})
    if "cpu" in limits:
        quota = max(1000, math.ceil(parse_quantity(limits["cpu"]) * CFS_PERIOD_US))
        values = {"cpu.cfs_period_us": str(CFS_PERIOD_US), "cpu.cfs_quota_us": str(quota)}
        want("cpu", f"cpu limit {limits['cpu']}", values)
    if pids_limit is not None:
        want("pids", f"pid limit {pids_limit}", {"pids.max": str(pids_limit)})
    for resource, value in limits.items():
        if resource not in ("cpu", "memory"):
            warnings.append(f"container {spec.name}: limit {resource}={value} not enforced by miniplane")
    return settings, warnings
