"""Log files (CRI lines, splitting, rotation) and `kubectl logs` options."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent import logfiles
from agent.logs import LogOptions, follow_log, read_log
from agent.timestamps import parse_rfc3339_ns, rfc3339_nano

T0 = 1_795_000_000_000_000_000  # epoch ns
SECOND = 1_000_000_000


def write_lines(path: Path, lines: list[tuple[int, str, str]]) -> None:
    """(seconds after T0, stream, text) per line."""
    with path.open("ab") as out:
        for offset, stream, text in lines:
            out.write(logfiles.encode(T0 + offset * SECOND, stream, text.encode(), False))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "0.log"
    write_lines(path, [(0, "stdout", "one"), (1, "stderr", "two"), (2, "stdout", "three"), (3, "stdout", "four")])
    return path


NOW = (T0 + 4 * SECOND) / 1e9


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(LogOptions(), b"one\ntwo\nthree\nfour\n", id="everything, both streams"),
        pytest.param(LogOptions(tail_lines=2), b"three\nfour\n", id="tailLines"),
        pytest.param(LogOptions(tail_lines=0), b"", id="tailLines=0 is nothing"),
        pytest.param(LogOptions(tail_lines=10), b"one\ntwo\nthree\nfour\n", id="tailLines beyond the log"),
        pytest.param(LogOptions(since_seconds=2.5), b"three\nfour\n", id="sinceSeconds"),
        pytest.param(
            LogOptions(since_time=rfc3339_nano(T0 + SECOND)[:19] + "Z"), b"two\nthree\nfour\n", id="sinceTime"
        ),
        pytest.param(LogOptions(limit_bytes=6), b"one\ntw", id="limitBytes cuts mid-line"),
        pytest.param(LogOptions(since_seconds=3.5, tail_lines=2), b"three\nfour\n", id="since, then tail"),
    ],
)
def test_read_options(log: Path, options: LogOptions, expected: bytes) -> None:
    assert read_log(log, options, NOW) == expected


def test_timestamps_use_fixed_nanoseconds(log: Path) -> None:
    out = read_log(log, LogOptions(timestamps=True, tail_lines=1), NOW).decode()
    assert out == rfc3339_nano(T0 + 3 * SECOND) + " four\n"
    stamp = out.split()[0]
    assert len(stamp) == len("2026-11-24T07:06:39.838687000Z")
    assert parse_rfc3339_ns(stamp) == T0 + 3 * SECOND


def test_timestamp_format() -> None:
    assert rfc3339_nano(1_795_503_999_838_687_000) == "2026-11-24T07:06:39.838687000Z"
    assert parse_rfc3339_ns("2026-11-24T07:06:39.838687Z") == 1_795_503_999_838_687_000
    with pytest.raises(ValueError):
        parse_rfc3339_ns("2026-11-24 07:06:39")


def test_splitter_cuts_lines_and_long_pieces() -> None:
    splitter = logfiles.LineSplitter()
    assert splitter.feed(b"a\nb") == [(b"a", False)]
    assert splitter.feed(b"c\n") == [(b"bc", False)]
    long = b"x" * (logfiles.MAX_LINE + 10)
    assert splitter.feed(long) == [(b"x" * logfiles.MAX_LINE, True)]
    assert splitter.flush() == [(b"x" * 10, True)]
    assert splitter.flush() == []


def test_partial_records_join_back(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(
        logfiles.encode(T0, "stdout", b"abc", True)
        + logfiles.encode(T0, "stdout", b"def", False)
        + logfiles.encode(T0, "stdout", b"no newline at exit", True)
    )
    assert read_log(path, LogOptions(), NOW) == b"abcdef\nno newline at exit"


def test_garbage_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"not a log line\n" + logfiles.encode(T0, "stdout", b"ok", False))
    assert read_log(path, LogOptions(), NOW) == b"ok\n"


def test_rotation_keeps_max_files_and_reading_spans_them(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = logfiles.RotatingWriter(path, max_size=100, max_files=3)
    for index in range(12):
        writer.write(logfiles.encode(T0 + index, "stdout", b"line-%02d" % index, False))
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.log", "0.log.1", "0.log.2"]
    assert logfiles.segments(path) == [tmp_path / "0.log.2", tmp_path / "0.log.1", path]
    lines = read_log(path, LogOptions(), NOW).split()
    assert lines == [b"line-%02d" % i for i in range(int(lines[0][-2:]), 12)]  # the oldest pieces are gone
    assert len(lines) < 12


async def test_follow_streams_new_lines_across_a_rotation_until_finished(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write_lines(path, [(0, "stdout", "old-1"), (1, "stdout", "old-2")])
    finished = False
    got: list[bytes] = []

    async def consume() -> None:
        async for chunk in follow_log(
            path, LogOptions(tail_lines=1), NOW, finished=lambda: finished, poll_interval=0.01
        ):
            got.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    write_lines(path, [(2, "stdout", "new-1")])
    await asyncio.sleep(0.05)
    writer = logfiles.RotatingWriter(path, max_size=1, max_files=2)  # this write rotates the file
    writer.write(logfiles.encode(T0 + 3 * SECOND, "stdout", b"new-2", False))
    writer.close()
    await asyncio.sleep(0.05)
    write_lines(path, [(4, "stdout", "new-3")])
    await asyncio.sleep(0.05)
    finished = True
    await asyncio.wait_for(task, 2)
    assert b"".join(got) == b"old-2\nnew-1\nnew-2\nnew-3\n"


async def test_follow_stops_at_limit_bytes(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write_lines(path, [(0, "stdout", "abcdef")])
    chunks = [c async for c in follow_log(path, LogOptions(limit_bytes=3), NOW, finished=lambda: False)]
    assert chunks == [b"abc"]
