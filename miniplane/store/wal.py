"""The write-ahead log: every write, framed and checksummed, made durable by group commit.

The log is a directory of segments named by the resourceVersion of their first record
(``00000000000000000001.wal``); a snapshot lets the older ones go. A segment is a sequence of frames::

    <u32 length> <u32 crc32 of the length field and the payload> <payload: msgpack Record>

Group commit: ``append`` adds the record to a buffer and returns a future. A single flusher task
takes the whole buffer as a batch, writes it and ``fdatasync``s it in a worker thread, so however many
writers wait, one sync covers them all; new records gather for the next batch meanwhile. Once the sync
returns, ``on_synced`` sees the batch's records (in order) and only then do their futures resolve.

A segment grows in zero-filled steps, so records are followed by zeros (a zero length ends them).
A crash can leave a torn or garbled tail on the last segment (a batch that was never acknowledged):
``open`` drops it (logging a WARNING with the byte count) and truncates the file there. Damage in an
earlier segment means acknowledged writes are gone, so it raises ``CorruptLog`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import msgpack

from miniplane.store.errors import StoreError

log = logging.getLogger(__name__)

Op = Literal["create", "update", "delete"]
_OPS = frozenset(("create", "update", "delete"))
_HEADER = struct.Struct("<II")  # length, crc32
_LENGTH = struct.Struct("<I")
_SUFFIX = ".wal"
_GROWTH = 1 << 20  # zeros a segment grows by ahead of its records


class Record(NamedTuple):
    """One logged write: the key, its new resourceVersion and the stored bytes (None for a delete)."""

    op: Op
    resource: str
    namespace: str
    name: str
    rv: int
    raw: bytes | None


class LogUnavailable(StoreError):
    """The log takes no more writes: it is closed, or writing or syncing it failed."""


class CorruptLog(StoreError):
    """A segment other than the last is damaged, or a record does not decode: acknowledged writes are lost."""


@dataclass(frozen=True, slots=True)
class LogStatistics:
    """Counters of the log since it was opened."""

    records: int
    batches: int
    syncs: int
    bytes: int
    segments: int


def frame(record: Record) -> bytes:
    """The bytes of one record as a segment holds them."""
    payload = msgpack.packb(record, use_bin_type=True)
    length = _LENGTH.pack(len(payload))
    return _HEADER.pack(len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def read_frames(data: bytes) -> tuple[list[Record], int]:
    """The whole, intact records at the start of ``data`` and the length of that prefix."""
    records: list[Record] = []
    view = memoryview(data)
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if length == 0 or end > len(data):
            break
        if zlib.crc32(view[start:end], zlib.crc32(view[offset : offset + _LENGTH.size])) != crc:
            break
        records.append(_decode(view[start:end]))
        offset = end
    return records, offset


def _decode(payload: memoryview) -> Record:
    try:
        fields = msgpack.unpackb(payload, use_list=False, raw=False)
        record = Record(*fields)
    except (ValueError, TypeError) as err:
        raise CorruptLog(f"a checksummed log record does not decode: {err}") from err
    if record.op not in _OPS or not isinstance(record.rv, int):
        raise CorruptLog(f"a checksummed log record is malformed: {record.op!r} at rv {record.rv!r}")
    return record


class WriteAheadLog:
    """An open log; create it with ``WriteAheadLog.open``."""

    def __init__(
        self,
        directory: Path,
        segments: list[Path],
        end: int,
        last_rv: int,
        *,
        fsync: bool,
        on_synced: Callable[[Sequence[Record]], None],
    ) -> None:
        self._directory = directory
        self._segments = segments
        self._fd = os.open(segments[-1], os.O_WRONLY | os.O_CLOEXEC)
        self._end = end  # of the records in the current segment; zeros follow up to _size
        self._size = os.fstat(self._fd).st_size
        self._last_rv = last_rv  # of the newest record written
        self._fsync = fsync
        self._on_synced = on_synced
        self._frames: list[bytes] = []
        self._records: list[Record] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wakeup: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._io = asyncio.Lock()  # held while a batch is written, and by rotate
        self._closing = False
        self.error: LogUnavailable | None = None  # set for good when a write or sync fails
        self._counts = {"records": 0, "batches": 0, "syncs": 0, "bytes": 0}

    @classmethod
    def open(
        cls, directory: Path, *, fsync: bool = True, on_synced: Callable[[Sequence[Record]], None] = lambda _: None
    ) -> tuple[WriteAheadLog, list[Record]]:
        """Open (or create) the log in ``directory``; returns it and every record it holds, oldest first."""
        directory.mkdir(parents=True, exist_ok=True)
        segments = sorted(p for p in directory.iterdir() if p.suffix == _SUFFIX and p.stem.isdigit())
        records: list[Record] = []
        end = 0
        for i, segment in enumerate(segments):
            data = segment.read_bytes()
            found, end = read_frames(data)
            records.extend(found)
            damaged = len(data.rstrip(b"\0")) - end  # bytes past the records that are not zero padding
            if damaged <= 0:
                continue
            if i < len(segments) - 1:
                raise CorruptLog(f"{segment} is damaged at byte {end} and later segments follow it")
            log.warning(
                "write-ahead log %s: dropped %d bytes of a torn or corrupt tail after byte %d (%d records kept)",
                segment, damaged, end, len(found),
            )  # fmt: skip
            with open(segment, "r+b") as f:
                f.truncate(end)
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
        if not segments:
            segments = [_create_segment(directory, 1, fsync)]
        last_rv = records[-1].rv if records else 0
        return cls(directory, segments, end, last_rv, fsync=fsync, on_synced=on_synced), records

    def append(self, record: Record) -> asyncio.Future[None]:
        """Queue ``record``; the future resolves once it is durable (cancelling it does not cancel the write).

        Records must come in resourceVersion order. Raises LogUnavailable when the log is closed or broken.
        """
        self.check()
        loop = asyncio.get_running_loop()
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush_forever())
        durable = loop.create_future()
        self._frames.append(frame(record))
        self._records.append(record)
        self._waiters.append(durable)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
        return durable

    def check(self) -> None:
        """Raise LogUnavailable if the log takes no more records (closed, or broken by an I/O error)."""
        if self.error is not None:
            raise self.error
        if self._closing:
            raise LogUnavailable("the write-ahead log is closed")

    async def rotate(self) -> int:
        """Start a new segment for the records to come; returns the rv of the last record before it."""
        async with self._io:
            if self._end:
                path = await asyncio.to_thread(_create_segment, self._directory, self._last_rv + 1, self._fsync)
                self._close_segment()
                self._fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                self._segments.append(path)
                self._end = self._size = 0
            return self._last_rv

    def discard_through(self, rv: int) -> None:
        """Delete the segments that hold only records up to ``rv`` (a durable snapshot covers them)."""
        while len(self._segments) > 1 and int(self._segments[1].stem) <= rv + 1:
            self._segments.pop(0).unlink(missing_ok=True)

    def statistics(self) -> LogStatistics:
        """Records, batches, syncs and bytes written since the log was opened, and the segment count."""
        return LogStatistics(**self._counts, segments=len(self._segments))

    async def close(self) -> None:
        """Make every queued record durable, then close the file (idempotent)."""
        self._closing = True
        if self._flusher is not None:
            if self._wakeup is not None and not self._wakeup.done():
                self._wakeup.set_result(None)
            await self._flusher
        if self._fd >= 0:
            self._close_segment()
            self._fd = -1

    async def _flush_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while self._records or not self._closing:
            if not self._records:
                self._wakeup = loop.create_future()
                await self._wakeup
                continue
            async with self._io:
                frames, records, waiters = self._frames, self._records, self._waiters
                self._frames, self._records, self._waiters = [], [], []
                data = b"".join(frames)
                try:
                    if self._fsync:
                        await asyncio.to_thread(self._write, data)
                    else:  # a write to the page cache is quicker than a trip to a thread
                        self._write(data)
                    self._last_rv = records[-1].rv
                    self._count(len(records), len(data))
                    self._on_synced(records)
                except Exception as err:
                    self._fail(err, waiters)
                    return
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _count(self, records: int, size: int) -> None:
        self._counts["records"] += records
        self._counts["batches"] += 1
        self._counts["syncs"] += int(self._fsync)
        self._counts["bytes"] += size

    def _write(self, data: bytes) -> None:
        """Write a batch after the records (in a worker thread), then sync it.

        The segment grows by zero-filled steps written along with a batch: a sync then rarely has to
        update the file's size and block map, which halves its cost on ext4.
        """
        end = self._end + len(data)
        if end > self._size:
            self._size = end + _GROWTH
            data += bytes(self._size - end)
        view, offset = memoryview(data), self._end
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written
        if self._fsync:
            os.fdatasync(self._fd)
        self._end = end

    def _close_segment(self) -> None:
        """Close the current segment, cutting off its zero padding (and any batch that failed)."""
        with contextlib.suppress(OSError):  # the padding is harmless: replay stops at it
            os.ftruncate(self._fd, self._end)
        os.close(self._fd)

    def _fail(self, err: Exception, waiters: list[asyncio.Future[None]]) -> None:
        """After a failed write or sync nothing later may be acknowledged: fail this batch and all queued."""
        log.error("write-ahead log failed; the store takes no more writes: %s", err, exc_info=err)
        self.error = LogUnavailable(f"the write-ahead log failed: {err}")
        for waiter in [*waiters, *self._waiters]:
            if not waiter.done():
                waiter.set_exception(self.error)
        self._frames, self._records, self._waiters = [], [], []


def _create_segment(directory: Path, first_rv: int, fsync: bool) -> Path:
    """A new, empty segment whose name (and directory entry) is durable."""
    path = directory / f"{first_rv:020d}{_SUFFIX}"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    if fsync:
        sync_directory(directory)
    return path


def sync_directory(directory: Path) -> None:
    """fsync a directory, making the creation, rename or removal of its entries durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
