"""The write-ahead log: framing, torn and corrupt tails, group commit, rotation and failure."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from miniplane.store.wal import CorruptLog, LogUnavailable, Record, WriteAheadLog, frame


def record(rv: int, op: str = "update") -> Record:
    raw = None if op == "delete" else f'{{"metadata":{{"name":"p{rv}","resourceVersion":"{rv}"}}}}'.encode()
    return Record(op, "pods", "default", f"p{rv}", rv, raw)  # type: ignore[arg-type]


async def write(directory: Path, rvs: Sequence[int], fsync: bool = True) -> WriteAheadLog:
    """Open the log, append one record per rv concurrently, and close it."""
    wal, _ = WriteAheadLog.open(directory, fsync=fsync)
    await asyncio.gather(*(wal.append(record(rv)) for rv in rvs))
    await wal.close()
    return wal


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


def append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


async def test_records_come_back_in_order(tmp_path: Path) -> None:
    await write(tmp_path, range(1, 6))
    deleted = Record("delete", "nodes", "", "n1", 6, None)
    wal, before = WriteAheadLog.open(tmp_path)
    await wal.append(deleted)
    await wal.close()
    assert WriteAheadLog.open(tmp_path)[1] == [*before, deleted]
    assert before == [record(rv) for rv in range(1, 6)]


async def test_zero_padding_after_the_records_is_a_clean_end(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crashed, _ = WriteAheadLog.open(tmp_path)  # never closed: its segment keeps the zeros it grew by
    for rv in (1, 2):
        await crashed.append(record(rv))
    [path] = segments(tmp_path)
    assert path.read_bytes().endswith(bytes(4096))
    with caplog.at_level(logging.WARNING):
        wal, records = WriteAheadLog.open(tmp_path)
    assert [r.rv for r in records] == [1, 2]
    assert caplog.text == ""
    await wal.append(record(3))
    await wal.close()
    assert [r.rv for r in WriteAheadLog.open(tmp_path)[1]] == [1, 2, 3]
    assert path.stat().st_size == sum(len(frame(record(rv))) for rv in (1, 2, 3)), "close cuts the padding"
    await crashed.close()  # only now: it would cut the file back to its own two records


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(frame(record(4))[:-3], id="partial-payload"),
        pytest.param(frame(record(4))[:5], id="partial-header"),
        pytest.param(frame(record(4))[:-3] + b"\0" * 4096, id="partial-then-zeros"),
        pytest.param(b"\x10\0\0\0garbage-garbage-garbage", id="garbage"),
    ],
)
async def test_torn_tail_is_truncated_with_a_warning(
    tmp_path: Path, tail: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    await write(tmp_path, [1, 2, 3])
    [path] = segments(tmp_path)
    whole = path.stat().st_size
    append_bytes(path, tail)
    with caplog.at_level(logging.WARNING, logger="miniplane.store.wal"):
        wal, records = WriteAheadLog.open(tmp_path)
    assert [r.rv for r in records] == [1, 2, 3]
    assert f"dropped {len(tail.rstrip(bytes(1)))} bytes" in caplog.text
    assert path.stat().st_size == whole
    await wal.append(record(4))  # appends after the cut
    await wal.close()
    assert [r.rv for r in WriteAheadLog.open(tmp_path)[1]] == [1, 2, 3, 4]


async def test_bad_checksum_in_the_last_segment_cuts_the_log_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await write(tmp_path, [1, 2, 3, 4])
    [path] = segments(tmp_path)
    data = bytearray(path.read_bytes())
    second = len(frame(record(1)))
    data[second + 12] ^= 0xFF  # a payload byte of record 2
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="miniplane.store.wal"):
        _, records = WriteAheadLog.open(tmp_path)
    assert [r.rv for r in records] == [1]
    assert f"dropped {len(data) - second} bytes" in caplog.text
    assert path.stat().st_size == second


async def test_damage_before_the_last_segment_is_refused(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    await wal.append(record(1))
    await wal.append(record(2))
    await wal.rotate()
    await wal.append(record(3))
    await wal.close()
    first = segments(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[-1] ^= 0xFF
    first.write_bytes(data)
    with pytest.raises(CorruptLog, match="later segments follow"):
        WriteAheadLog.open(tmp_path)


async def test_a_checksummed_record_that_does_not_decode_is_refused(tmp_path: Path) -> None:
    await write(tmp_path, [1])
    append_bytes(segments(tmp_path)[0], frame(record(2, op="upsert")))
    with pytest.raises(CorruptLog):
        WriteAheadLog.open(tmp_path)


async def test_concurrent_writers_share_syncs(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    rvs = iter(range(1, 801))

    async def writer() -> None:
        for rv in rvs:  # 16 writers, each waiting for its record before the next
            await wal.append(record(rv))

    await asyncio.gather(*(writer() for _ in range(16)))
    stats = wal.statistics()
    await wal.close()
    assert stats.records == 800
    assert stats.syncs == stats.batches < 800 / 4
    assert [r.rv for r in WriteAheadLog.open(tmp_path)[1]] == list(range(1, 801))


async def test_batch_is_handed_over_before_writers_resume(tmp_path: Path) -> None:
    synced: list[int] = []
    wal, _ = WriteAheadLog.open(tmp_path, on_synced=lambda records: synced.extend(r.rv for r in records))

    async def write_one(rv: int) -> list[int]:
        await wal.append(record(rv))
        return list(synced)

    seen = await asyncio.gather(*(write_one(rv) for rv in range(1, 6)))
    await wal.close()
    assert synced == [1, 2, 3, 4, 5]
    assert all(rv in before for rv, before in zip(range(1, 6), seen, strict=True))


async def test_a_cancelled_writer_does_not_cancel_the_batch(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    first, second = wal.append(record(1)), wal.append(record(2))
    first.cancel()
    await second
    await wal.close()
    assert [r.rv for r in WriteAheadLog.open(tmp_path)[1]] == [1, 2]


async def test_without_fsync_nothing_is_synced(tmp_path: Path) -> None:
    wal = await write(tmp_path, range(1, 11), fsync=False)
    assert wal.statistics().syncs == 0
    assert len(WriteAheadLog.open(tmp_path)[1]) == 10


async def test_rotation_and_discarding_segments(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    for rv in (1, 2):
        await wal.append(record(rv))
    assert await wal.rotate() == 2
    assert await wal.rotate() == 2, "an empty segment is not rotated"
    await wal.append(record(3))
    assert [p.name for p in segments(tmp_path)] == [f"{1:020d}.wal", f"{3:020d}.wal"]
    wal.discard_through(1)
    assert len(segments(tmp_path)) == 2, "rv 2 is still needed"
    wal.discard_through(2)
    assert [p.name for p in segments(tmp_path)] == [f"{3:020d}.wal"]
    await wal.close()
    assert [r.rv for r in WriteAheadLog.open(tmp_path)[1]] == [3]


async def test_a_failed_sync_fails_the_batch_and_every_later_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    await wal.append(record(1))

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(LogUnavailable, match="Input/output error"):
        await asyncio.gather(wal.append(record(2)), wal.append(record(3)))
    with pytest.raises(LogUnavailable):
        wal.append(record(4))
    assert "write-ahead log failed" in caplog.text
    await wal.close()


async def test_close_drains_queued_records_then_refuses(tmp_path: Path) -> None:
    wal, _ = WriteAheadLog.open(tmp_path)
    pending = [wal.append(record(rv)) for rv in (1, 2, 3)]
    await wal.close()
    assert all(f.done() and f.exception() is None for f in pending)
    with pytest.raises(LogUnavailable, match="closed"):
        wal.append(record(4))
    await wal.close()
