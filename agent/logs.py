"""`kubectl logs` semantics over a container instance's log files.

`read_log` answers a plain request; `follow_log` is the `follow=true` stream (an async iterator that ends
when the container instance has finished and everything is read, or `limitBytes` is reached). The path is
the instance's current log file (`Runtime.log_path`), rotated pieces are found next to it. Options are
applied as the kubelet applies them: `sinceSeconds`/`sinceTime` filter lines, then `tailLines` keeps the
last lines, `timestamps` prefixes each line with its RFC 3339 nano time, `limitBytes` cuts the output.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent import logfiles
from agent.timestamps import parse_rfc3339_ns, rfc3339_nano


@dataclass(frozen=True)
class LogOptions:
    """The query options of `GET pods/NAME/log` (container and previous are resolved by the caller)."""

    tail_lines: int | None = None
    since_seconds: float | None = None
    since_time: str | None = None  # RFC 3339
    timestamps: bool = False
    limit_bytes: int | None = None


class _Output:
    """Filters and formats records, counting down `limitBytes`."""

    def __init__(self, options: LogOptions, now: float) -> None:
        self.options = options
        self.since_ns: int | None = None
        if options.since_time is not None:
            self.since_ns = parse_rfc3339_ns(options.since_time)
        elif options.since_seconds is not None:
            self.since_ns = int((now - options.since_seconds) * 1e9)
        self.budget = options.limit_bytes

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.budget <= 0

    def keep(self, records: Iterable[logfiles.LogRecord]) -> list[logfiles.LogRecord]:
        return [r for r in records if self.since_ns is None or r.time_ns >= self.since_ns]

    def render(self, records: Iterable[logfiles.LogRecord]) -> bytes:
        if self.options.timestamps:
            data = b"".join(b"%s %s" % (rfc3339_nano(r.time_ns).encode(), r.text) for r in records)
        else:
            data = b"".join(r.text for r in records)
        if self.budget is not None:
            data = data[: max(self.budget, 0)]
            self.budget -= len(data)
        return data


def _records(data: bytes) -> list[logfiles.LogRecord]:
    parsed = (logfiles.parse(line) for line in data.splitlines())
    return [record for record in parsed if record is not None]


def _tail(records: list[logfiles.LogRecord], tail_lines: int | None) -> list[logfiles.LogRecord]:
    if tail_lines is None:
        return records
    return records[-tail_lines:] if tail_lines > 0 else []


def read_log(path: Path, options: LogOptions, now: float) -> bytes:
    """The log of one container instance, as `GET pods/NAME/log` returns it."""
    output = _Output(options, now)
    data = b"".join(segment.read_bytes() for segment in logfiles.segments(path))
    return output.render(_tail(output.keep(_records(data)), options.tail_lines))


async def follow_log(
    path: Path,
    options: LogOptions,
    now: float,
    *,
    finished: Callable[[], bool],  # True once the instance has exited (its shim wrote the last line)
    poll_interval: float = 0.1,
) -> AsyncIterator[bytes]:
    """What is logged so far (per `options`), then each new line as it is written, across rotations."""
    output = _Output(options, now)
    history = b"".join(segment.read_bytes() for segment in logfiles.segments(path)[:-1])
    follower = _Follower(path)
    history += follower.read()
    first = output.render(_tail(output.keep(_records(history)), options.tail_lines))
    if first:
        yield first
    while not output.exhausted:
        done = finished()  # sampled before reading, so the last lines are not missed
        chunk = output.render(output.keep(_records(follower.read())))
        if chunk:
            yield chunk
        elif done:
            break
        else:
            await asyncio.sleep(poll_interval)
    follower.close()


class _Follower:
    """Reads whole lines appended to a log file, moving to the new file when it is rotated."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._partial = b""

    def read(self) -> bytes:
        """Complete lines written since the last call."""
        data = self._drain()
        if self._replaced():
            data += self._drain()  # lines written to the old file just before it was rotated
            self.close()
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            data += self._drain()
        data, self._partial = self._split(self._partial + data)
        return data

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _replaced(self) -> bool:
        """True when `path` is not the file being read (first call, or rotated)."""
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            return False
        return self._fd is None or os.fstat(self._fd).st_ino != inode

    def _drain(self) -> bytes:
        if self._fd is None:
            return b""
        chunks = []
        while chunk := os.read(self._fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _split(data: bytes) -> tuple[bytes, bytes]:
        cut = data.rfind(b"\n") + 1
        return data[:cut], data[cut:]
