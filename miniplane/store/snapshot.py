"""Snapshots: every object of the store at one resourceVersion, in one checksummed file.

Layout::

    MAGIC  body: msgpack array of [resource, namespace, name, rv, raw]  TRAILER

where the trailer holds the snapshot's resourceVersion, the body's length, a CRC32 of the body and
those two fields, and an end marker. ``write_snapshot`` writes a temporary file, syncs it, renames it over the
snapshot and syncs the directory, so a crash leaves the old snapshot or the new one, never a mix (a
leftover temporary file is simply overwritten next time). ``read_snapshot`` checks everything before
it returns anything and raises ``CorruptSnapshot`` otherwise.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import msgpack

from miniplane.store.base import StoredObject
from miniplane.store.errors import StoreError
from miniplane.store.wal import sync_directory

MAGIC = b"MPSNAP01"
_END = b"MPSNAPOK"
_FIELDS = struct.Struct("<QQ")  # rv, body length
_TRAILER = struct.Struct("<QQI8s")  # rv, body length, crc32 of body + fields, end marker
_CHUNK = 1 << 20


class CorruptSnapshot(StoreError):
    """The snapshot file is truncated, altered or not a snapshot; nothing of it was loaded."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"corrupt snapshot {path}: {reason}")
        self.path = path


class SnapshotEntry(NamedTuple):
    """One object as a snapshot holds it."""

    resource: str
    namespace: str
    name: str
    rv: int
    raw: bytes


class Snapshot(NamedTuple):
    """A loaded snapshot: the store's resourceVersion and its objects."""

    rv: int
    entries: list[SnapshotEntry]


def write_snapshot(path: Path, rv: int, objects: Sequence[StoredObject], *, fsync: bool = True) -> None:
    """Atomically replace the snapshot at ``path`` with ``objects`` at resourceVersion ``rv``."""
    temp = path.with_name(path.name + ".tmp")
    packer = msgpack.Packer(use_bin_type=True)
    crc = length = 0
    with open(temp, "wb") as f:
        f.write(MAGIC)
        chunk = bytearray(packer.pack_array_header(len(objects)))
        for obj in objects:
            chunk += packer.pack((obj.resource, obj.namespace, obj.name, obj.rv, obj.raw))
            if len(chunk) >= _CHUNK:
                crc, length = zlib.crc32(chunk, crc), length + len(chunk)
                f.write(chunk)
                chunk.clear()
        crc, length = zlib.crc32(chunk, crc), length + len(chunk)
        f.write(chunk)
        f.write(_TRAILER.pack(rv, length, zlib.crc32(_FIELDS.pack(rv, length), crc), _END))
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    os.replace(temp, path)
    if fsync:
        sync_directory(path.parent)


def read_snapshot(path: Path) -> Snapshot | None:
    """The snapshot at ``path`` (None if there is none); raises CorruptSnapshot unless it is whole."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < len(MAGIC) + _TRAILER.size or not data.startswith(MAGIC):
        raise CorruptSnapshot(path, "not a snapshot, or truncated")
    rv, length, crc, end = _TRAILER.unpack_from(data, len(data) - _TRAILER.size)
    body = memoryview(data)[len(MAGIC) : len(data) - _TRAILER.size]
    if end != _END or length != len(body):
        raise CorruptSnapshot(path, "truncated or extended")
    if zlib.crc32(_FIELDS.pack(rv, length), zlib.crc32(body)) != crc:
        raise CorruptSnapshot(path, "checksum mismatch")
    try:
        entries = [SnapshotEntry(*entry) for entry in msgpack.unpackb(body, use_list=False, raw=False)]
    except (ValueError, TypeError) as err:
        raise CorruptSnapshot(path, f"undecodable body: {err}") from err
    return Snapshot(rv, entries)
