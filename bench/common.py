"""Shared bench helpers: process accounting from /proc and table printing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def proc_rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc/PID/statm."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def daemonset(max_unavailable: str | int, grace_period: int | None = None) -> dict[str, Any]:
    """The benchmarks' DaemonSet ``agent``: one container, RollingUpdate with ``max_unavailable``."""
    spec: dict[str, Any] = {"containers": [{"name": "agent", "image": "busybox:1", "args": ["sleep", "infinity"]}]}
    if grace_period is not None:
        spec["terminationGracePeriodSeconds"] = grace_period
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec},
        },
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table (readable in a terminal and pasteable into the README)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
