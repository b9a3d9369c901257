"""Container log files: the CRI line format and size-based rotation (no third-party imports: the shim writes them).

Each line a container writes is stored as `<RFC3339Nano time> <stdout|stderr> <F|P> <content>\\n`, the
format the kubelet reads; `P` marks a piece of a line longer than `MAX_LINE` (or unterminated at exit)
that continues in the next record. One file per container instance, `<dir>/<restartCount>.log`; when it
grows past `max_size` it is renamed `.log.1` (older pieces shift to `.log.2` ...), keeping `max_files`
files in all. The shim writes them; `agent.logs` reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agent.timestamps import parse_rfc3339_ns, rfc3339_nano

MAX_LINE = 16 * 1024


@dataclass(frozen=True)
class LogRecord:
    """One parsed log line."""

    time_ns: int
    stream: str
    partial: bool
    content: bytes

    @property
    def text(self) -> bytes:
        """The bytes the container wrote: content, plus the newline unless partial."""
        return self.content if self.partial else self.content + b"\n"


def encode(time_ns: int, stream: str, content: bytes, partial: bool) -> bytes:
    """One stored line."""
    tag = b"P" if partial else b"F"
    return b"%s %s %s %s\n" % (rfc3339_nano(time_ns).encode(), stream.encode(), tag, content)


def parse(line: bytes) -> LogRecord | None:
    """Parse one stored line (with or without its newline); None when it is not one."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"P", b"F"):
        return None
    try:
        time_ns = parse_rfc3339_ns(parts[0].decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return LogRecord(time_ns, parts[1].decode(), parts[2] == b"P", parts[3] if len(parts) == 4 else b"")


def segments(path: Path) -> list[Path]:
    """The files of one instance's log, oldest first, ending with `path` itself when it exists."""
    rotated = []
    index = 1
    while (older := path.with_name(f"{path.name}.{index}")).exists():
        rotated.append(older)
        index += 1
    return [*reversed(rotated), *([path] if path.exists() else [])]


class LineSplitter:
    """Cuts one stream's raw bytes into record contents: `(content, partial)` pairs."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Whole lines (and over-long pieces) completed by `data`."""
        self._pending += data
        out: list[tuple[bytes, bool]] = []
        while True:
            newline = self._pending.find(b"\n", 0, MAX_LINE + 1)
            if newline != -1:
                out.append((self._pending[:newline], False))
                self._pending = self._pending[newline + 1 :]
            elif len(self._pending) > MAX_LINE:
                out.append((self._pending[:MAX_LINE], True))
                self._pending = self._pending[MAX_LINE:]
            else:
                return out

    def flush(self) -> list[tuple[bytes, bool]]:
        """What is left at end of stream, as a partial record."""
        rest, self._pending = self._pending, b""
        return [(rest, True)] if rest else []


class RotatingWriter:
    """Appends records to `path`, rotating by size."""

    def __init__(self, path: Path, max_size: int, max_files: int) -> None:
        self.path, self.max_size, self.max_files = path, max_size, max(1, max_files)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def write(self, record: bytes) -> None:
        """Append one stored line, then rotate if the file is full."""
        os.write(self._fd, record)
        self._size += len(record)
        if self._size >= self.max_size:
            self._rotate()

    def close(self) -> None:
        """Close the current file."""
        os.close(self._fd)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)

    def _rotate(self) -> None:
        os.close(self._fd)
        keep = self.max_files - 1
        if keep == 0:
            self.path.unlink()
        else:
            self.path.with_name(f"{self.path.name}.{keep}").unlink(missing_ok=True)
            for index in range(keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.rename(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        self._fd = self._open()
        self._size = 0
