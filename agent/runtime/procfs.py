"""Process identity from /proc: a PID plus its start time names one process, even after PID reuse.

Standard library only: the container shim imports it.
"""

from __future__ import annotations

import os
import signal


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), or None when there is no such live process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(b")") + 2 :].split()  # the command name may hold spaces and parentheses
    if fields[0] in (b"Z", b"X"):  # zombie or dead: gone as far as we are concerned
        return None
    return int(fields[19])


def is_alive(pid: int, started: int | None) -> bool:
    """True while the process `pid` that started at `started` still runs."""
    return started is not None and start_time(pid) == started


def kill_group(pid: int, started: int | None, sig: signal.Signals) -> bool:
    """Signal the process group led by `pid` if its leader is still the same process; False if it is gone."""
    if not is_alive(pid, started):
        return False
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True
