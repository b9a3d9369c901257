"""The event recorder: de-duplication, aggregation of similar events and the spam filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from miniplane.controllers.recorder import EventRecorder
from miniplane.objects.service import ObjectService
from miniplane.resources.registry import BY_KEY
from miniplane.server import bootstrap
from miniplane.store.memory import MemoryStore

DS = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "default", "uid": "u-1", "resourceVersion": "7"},
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _recorder() -> tuple[EventRecorder, ObjectService, Clock]:
    service = ObjectService(MemoryStore())
    await bootstrap(service)
    clock = Clock()
    return EventRecorder(service, "daemonset-controller", clock), service, clock


async def _events(service: ObjectService) -> list[dict[str, Any]]:
    items, _ = await service.list_objects(BY_KEY["events"])
    return sorted((i.decode() for i in items), key=lambda e: e["metadata"]["name"])


async def test_a_repeated_event_bumps_the_count() -> None:
    recorder, service, clock = await _recorder()
    await recorder.record(DS, "Warning", "FailedCreate", "Error creating: no")
    clock.now += timedelta(seconds=5)
    await recorder.record(DS, "Warning", "FailedCreate", "Error creating: no")
    [event] = await _events(service)
    assert event["count"] == 2
    assert event["firstTimestamp"] == "2026-01-01T00:00:00Z" and event["lastTimestamp"] == "2026-01-01T00:00:05Z"
    assert event["source"] == {"component": "daemonset-controller"}
    assert event["involvedObject"] == {
        "kind": "DaemonSet", "namespace": "default", "name": "agent", "uid": "u-1", "apiVersion": "apps/v1",
        "resourceVersion": "7",
    }  # fmt: skip
    assert event["metadata"]["name"].startswith("agent.")


async def test_similar_events_are_combined_after_ten() -> None:
    recorder, service, _ = await _recorder()
    for i in range(12):
        await recorder.record(DS, "Normal", "SuccessfulCreate", f"Created pod: agent-{i:02d}")
    events = await _events(service)
    combined = [e for e in events if e["message"].startswith("(combined from similar events): ")]
    assert len(events) == 10 and len(combined) == 1
    assert combined[0]["count"] == 3 and combined[0]["message"].endswith("Created pod: agent-11")


async def test_an_object_gets_25_events_then_one_every_five_minutes() -> None:
    recorder, service, clock = await _recorder()
    for _ in range(30):
        await recorder.record(DS, "Warning", "FailedCreate", "Error creating: no")
    [event] = await _events(service)
    assert event["count"] == 25
    clock.now += timedelta(minutes=5)
    await recorder.record(DS, "Warning", "FailedCreate", "Error creating: no")
    await recorder.record(DS, "Warning", "FailedCreate", "Error creating: no")
    [event] = await _events(service)
    assert event["count"] == 26
