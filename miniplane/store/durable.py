"""DurableStore: the in-memory store, made to survive ``kill -9`` by a write-ahead log and snapshots.

Ordering: log first, apply after. A write is checked and stamped against the newest state (the
applied one plus the writes still waiting for their sync), appended to the log, and handed to the
``MemoryStore`` only once the sync covering it has returned; then the caller resumes. Gets, lists,
``current_rv`` and watchers therefore see durable writes only: a crash loses nothing anyone was told
about or saw. If writing the log fails, the waiting writes fail with it and are never applied; the
store then refuses writes (``LogUnavailable``) and keeps serving reads.

Files in ``data_dir``::

    store.lock   held (flock) while the store is open: a second opener gets StoreLocked
    snapshot     every object at one resourceVersion (``snapshot.tmp`` while one is written)
    wal/         log segments: every write since the snapshot (and maybe some before it)

Opening loads the snapshot, then replays the later log records, which must follow on without a
gap: every object comes back with its resourceVersion, and so does the counter. The replayed writes
also refill the watch history, so a watcher resuming from an rv after the snapshot gets no 410 Gone.
Every ``snapshot_every`` writes the log is rotated, a snapshot is written (in a worker thread) and the
segments it covers are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

from miniplane.store.base import Query, StoredObject, StoreStatistics, WatchEvent
from miniplane.store.errors import AlreadyExists, StoreError
from miniplane.store.memory import MemoryStore, check_current, encode, from_raw, key_of, tombstone
from miniplane.store.snapshot import read_snapshot, write_snapshot
from miniplane.store.wal import CorruptLog, LogStatistics, LogUnavailable, Op, Record, WriteAheadLog

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (resource, namespace, name)


class StoreLocked(StoreError):
    """Another process (or another open store) holds the data dir."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        super().__init__(f"data dir {data_dir} is in use by another miniplane store (pid {holder or 'unknown'})")
        self.data_dir = data_dir


class DurableStore:
    """A ``Store`` kept in memory whose acknowledged writes survive a crash of the process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        history_size: int = 100_000,
        watch_queue_size: int = 10_000,
        snapshot_every: int = 50_000,
        fsync: bool = True,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be positive")
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(data_dir / "store.lock")
        self._snapshot_path = data_dir / "snapshot"
        self._snapshot_every = snapshot_every
        self._fsync = fsync
        self._memory = MemoryStore(history_size, watch_queue_size)
        self._pending: dict[Key, tuple[int, StoredObject | None]] = {}  # newest unsynced version (None: deleted)
        self._syncing: dict[Key, asyncio.Future[None]] = {}  # the newest unsynced write's durability
        self._unapplied: deque[tuple[StoredObject, bool]] = deque()  # logged, not yet synced: (version, deleted)
        self._snapshot_lock = asyncio.Lock()
        self._snapshotting: asyncio.Task[None] | None = None
        self._closed = False
        try:
            snapshot = read_snapshot(self._snapshot_path)
            if snapshot is not None:
                self._memory.restore((from_raw(*entry, None) for entry in snapshot.entries), snapshot.rv)
            self._snapshot_rv = self._memory.current_rv
            self._wal, records = WriteAheadLog.open(data_dir / "wal", fsync=fsync, on_synced=self._synced)
            self._since_snapshot = self._replay(records)
            self._wal.discard_through(self._snapshot_rv)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._next_rv = self._memory.current_rv  # the last one handed out
        log.info(
            "store recovered at rv %d: snapshot at rv %d, %d log records replayed",
            self._next_rv, self._snapshot_rv, self._since_snapshot,
        )  # fmt: skip

    @property
    def current_rv(self) -> int:
        """The resourceVersion of the newest durable write (0 for an empty store)."""
        return self._memory.current_rv

    @property
    def snapshot_rv(self) -> int:
        """The resourceVersion of the latest snapshot (0 if there is none)."""
        return self._snapshot_rv

    async def get(self, resource: str, namespace: str, name: str) -> StoredObject:
        """The current object; raises NotFound. Waits for a pending write of the key (read-your-writes),
        so a read-modify-write right after another write does not meet a Conflict."""
        waiting = self._syncing.get((resource, namespace, name))
        if waiting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(waiting)
        return await self._memory.get(resource, namespace, name)

    async def list(self, resource: str, query: Query = Query()) -> tuple[list[StoredObject], int]:
        """Matching objects sorted by (namespace, name), and the resourceVersion they reflect."""
        return await self._memory.list(resource, query)

    async def create(self, resource: str, obj: dict[str, Any]) -> StoredObject:
        """Store a new object once it is durable; raises AlreadyExists."""
        namespace, name = key_of(obj)
        self._check_writable()
        if self._newest(resource, namespace, name) is not None:
            raise AlreadyExists(resource, namespace, name)
        stored = encode(resource, namespace, name, obj, None, self._next_rv + 1)
        await self._log("create", stored)
        return stored

    async def update(self, resource: str, obj: dict[str, Any], expect_rv: int | None = None) -> StoredObject:
        """Replace an existing object once durable; ``expect_rv`` (if given) must match, else Conflict."""
        namespace, name = key_of(obj)
        self._check_writable()
        old = check_current(self._newest(resource, namespace, name), resource, namespace, name, expect_rv)
        stored = encode(resource, namespace, name, obj, old, self._next_rv + 1)
        await self._log("update", stored)
        return stored

    async def delete(self, resource: str, namespace: str, name: str, expect_rv: int | None = None) -> StoredObject:
        """Remove an object once durable; returns its last state stamped with the deletion's resourceVersion."""
        self._check_writable()
        old = check_current(self._newest(resource, namespace, name), resource, namespace, name, expect_rv)
        gone = tombstone(old, self._next_rv + 1)
        await self._log("delete", gone)
        return gone

    def watch(
        self, resource: str, query: Query = Query(), since_rv: int | None = None
    ) -> AsyncGenerator[WatchEvent, None]:
        """Durable changes after ``since_rv`` (None: from now on), filtered by ``query``."""
        return self._memory.watch(resource, query, since_rv)

    def statistics(self) -> StoreStatistics:
        """Counters for /metrics."""
        return self._memory.statistics()

    def log_statistics(self) -> LogStatistics:
        """Records, batches, syncs and bytes of the write-ahead log since the store opened."""
        return self._wal.statistics()

    async def snapshot(self) -> int:
        """Snapshot the current state now and delete the log segments it covers; returns its rv."""
        self._check_writable()
        async with self._snapshot_lock:
            await self._wal.rotate()  # every record before the new segment is applied: the snapshot covers it
            rv = self._memory.current_rv
            objects: list[StoredObject] = []
            for resource in sorted(self._memory.statistics().objects):
                objects.extend((await self._memory.list(resource))[0])  # never suspends: one consistent cut
            assert rv == self._memory.current_rv
            self._since_snapshot = 0
            await asyncio.to_thread(write_snapshot, self._snapshot_path, rv, objects, fsync=self._fsync)
            self._wal.discard_through(rv)
            self._snapshot_rv = rv
            return rv

    async def close(self) -> None:
        """Finish the writes under way, end every watch and release the data dir (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._snapshotting is not None:
            await self._snapshotting
        await self._wal.close()
        await self._memory.close()
        os.close(self._lock_fd)

    def _check_writable(self) -> None:
        if self._closed:
            raise LogUnavailable("the store is closed")
        self._wal.check()

    def _newest(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        """The key's newest version, counting writes that wait for their sync."""
        pending = self._pending.get((resource, namespace, name))
        return self._memory.current(resource, namespace, name) if pending is None else pending[1]

    async def _log(self, op: Op, stored: StoredObject) -> None:
        """Log a checked, stamped write and return once it is durable and applied."""
        deleted = op == "delete"
        record = Record(op, stored.resource, stored.namespace, stored.name, stored.rv, None if deleted else stored.raw)
        durable = self._wal.append(record)
        self._next_rv = stored.rv
        key = (stored.resource, stored.namespace, stored.name)
        self._pending[key] = (stored.rv, None if deleted else stored)
        self._syncing[key] = durable
        self._unapplied.append((stored, deleted))
        try:
            await durable
        finally:
            if self._syncing.get(key) is durable:
                del self._syncing[key]

    def _synced(self, records: Sequence[Record]) -> None:
        """The log's callback once ``records`` are durable: apply them, in order, before their writers resume."""
        for record in records:
            stored, deleted = self._unapplied.popleft()
            assert stored.rv == record.rv
            self._memory.apply(stored, deleted)
            key = (stored.resource, stored.namespace, stored.name)
            if self._pending[key][0] == stored.rv:
                del self._pending[key]
        self._since_snapshot += len(records)
        if self._since_snapshot >= self._snapshot_every and self._snapshotting is None and not self._closed:
            self._snapshotting = asyncio.get_running_loop().create_task(self._background_snapshot())

    async def _background_snapshot(self) -> None:
        try:
            await self.snapshot()
        except Exception:
            log.exception("snapshot failed; the write-ahead log keeps every write meanwhile")
        finally:
            self._snapshotting = None

    def _replay(self, records: Sequence[Record]) -> int:
        """Apply the log records after the snapshot; returns how many."""
        replayed = 0
        for record in records:
            expected = self._memory.current_rv + 1
            if record.rv < expected:
                continue  # the snapshot has it
            if record.rv > expected:
                raise CorruptLog(f"the write-ahead log jumps from rv {expected - 1} to {record.rv}")
            old = self._memory.current(record.resource, record.namespace, record.name)
            if (old is None) != (record.op == "create") or (record.raw is None) != (record.op == "delete"):
                key = f"{record.resource} {record.namespace}/{record.name}"
                raise CorruptLog(f"logged {record.op} of {key} at rv {record.rv} does not fit the recovered state")
            if record.raw is None:
                assert old is not None
                self._memory.apply(tombstone(old, record.rv), deleted=True)
            else:
                self._memory.apply(from_raw(record.resource, record.namespace, record.name, record.rv, record.raw, old))
            replayed += 1
        return replayed


def _lock(path: Path) -> int:
    """Hold an exclusive flock on ``path`` (recording our pid in it); StoreLocked if someone else does."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise StoreLocked(path.parent, holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
