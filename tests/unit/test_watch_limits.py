"""Counting open watches per client (pure logic; the HTTP side is in tests/integration/test_limits.py)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from miniplane.api.limits import OpenWatch, WatchCounter
from miniplane.objects.errors import APIError


class FakeWatch:
    def __init__(self, gone: bool = False) -> None:
        self.gone = gone
        self.ended = False

    def entry(self) -> OpenWatch:
        return OpenWatch(lambda: self.gone, self.end)

    def end(self) -> None:
        self.ended = True


def test_the_watch_over_the_limit_gets_429_and_other_clients_are_apart() -> None:
    counter = WatchCounter(2)
    with ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(counter.hold("alice", FakeWatch().entry()))
        with pytest.raises(APIError) as err, counter.hold("alice", FakeWatch().entry()):
            pass
        assert err.value.code == 429 and err.value.reason == "TooManyRequests"
        assert err.value.details == {"retryAfterSeconds": 1}
        with counter.hold("bob", FakeWatch().entry()):
            assert counter.count("bob") == 1
        assert counter.count("alice") == 2
    assert counter.count("alice") == 0


def test_a_closed_watch_frees_its_slot() -> None:
    counter = WatchCounter(1)
    with counter.hold("alice", FakeWatch().entry()):
        pass
    with counter.hold("alice", FakeWatch().entry()):
        assert counter.count("alice") == 1


def test_at_the_limit_watches_whose_client_left_are_ended_and_not_counted() -> None:
    counter = WatchCounter(2)
    live, vanished = FakeWatch(), FakeWatch()
    with counter.hold("alice", live.entry()), counter.hold("alice", vanished.entry()):
        vanished.gone = True
        with counter.hold("alice", FakeWatch().entry()):
            assert vanished.ended and not live.ended
            assert counter.count("alice") == 2
    assert counter.count("alice") == 0


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        WatchCounter(0)
