"""Snapshots: round trip, refusal of anything not whole, and atomic replacement."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from miniplane.store.base import StoredObject
from miniplane.store.snapshot import CorruptSnapshot, SnapshotEntry, read_snapshot, write_snapshot


def objects(count: int, rv: int = 0) -> list[StoredObject]:
    return [
        StoredObject("pods", "default", f"p{i}", rv + i, f'{{"metadata":{{"name":"p{i}"}}}}'.encode(), {}, {})
        for i in range(1, count + 1)
    ]


def entries(objs: list[StoredObject]) -> list[SnapshotEntry]:
    return [SnapshotEntry(o.resource, o.namespace, o.name, o.rv, o.raw) for o in objs]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "snapshot"
    objs = [*objects(3), StoredObject("nodes", "", "n1", 9, b'{"metadata":{}}', {}, {})]
    write_snapshot(path, 12, objs)
    snapshot = read_snapshot(path)
    assert snapshot is not None
    assert snapshot.rv == 12
    assert snapshot.entries == entries(objs)


def test_large_snapshot_spans_many_chunks(tmp_path: Path) -> None:
    path = tmp_path / "snapshot"
    objs = objects(30_000)
    write_snapshot(path, 30_000, objs, fsync=False)
    snapshot = read_snapshot(path)
    assert snapshot is not None and snapshot.entries == entries(objs)


def test_empty_store_and_missing_file(tmp_path: Path) -> None:
    assert read_snapshot(tmp_path / "snapshot") is None
    write_snapshot(tmp_path / "snapshot", 5, [])
    assert read_snapshot(tmp_path / "snapshot") == (5, [])


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(lambda d: d[: len(d) // 2], "truncated", id="cut-in-half"),
        pytest.param(lambda d: d[:-1], "truncated", id="cut-by-one"),
        pytest.param(lambda d: b"", "not a snapshot", id="empty"),
        pytest.param(lambda d: d + b"\0", "truncated or extended", id="extended"),
        pytest.param(lambda d: _flip(d, 40), "checksum", id="body-bit-flip"),
        pytest.param(lambda d: _flip(d, 0), "not a snapshot", id="bad-magic"),
        pytest.param(lambda d: _flip(d, len(d) - 28), "checksum", id="trailer-rv"),
        pytest.param(lambda d: _flip(d, len(d) - 20), "truncated or extended", id="trailer-length"),
        pytest.param(lambda d: _flip(d, len(d) - 10), "checksum", id="trailer-crc"),
        pytest.param(lambda d: _flip(d, len(d) - 1), "truncated or extended", id="end-marker"),
    ],
)
def test_damaged_snapshot_is_refused(tmp_path: Path, damage: Callable[[bytes], bytes], reason: str) -> None:
    path = tmp_path / "snapshot"
    write_snapshot(path, 3, objects(3))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptSnapshot, match=reason) as err:
        read_snapshot(path)
    assert err.value.path == path


def test_leftover_temp_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "snapshot"
    write_snapshot(path, 2, objects(2))
    (tmp_path / "snapshot.tmp").write_bytes(b"half a snapshot from a crash")
    assert read_snapshot(path) == (2, entries(objects(2)))
    write_snapshot(path, 4, objects(4))
    assert read_snapshot(path) == (4, entries(objects(4)))
    assert not (tmp_path / "snapshot.tmp").exists()


def test_a_crash_before_the_rename_keeps_the_old_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "snapshot"
    write_snapshot(path, 2, objects(2))

    def crash(src: object, dst: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_snapshot(path, 9, objects(9))
    monkeypatch.undo()
    assert read_snapshot(path) == (2, entries(objects(2)))
