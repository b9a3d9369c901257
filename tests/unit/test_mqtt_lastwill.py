"""The last-will path's decision: what a node whose agent's connection was lost becomes."""

from __future__ import annotations

from datetime import UTC, datetime

from miniplane.mqtt import lastwill

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def _node(ready: str = "True", taints: list[dict] | None = None) -> dict:
    conditions = [
        {"type": kind, "status": status, "reason": "Kubelet", "lastHeartbeatTime": "2026-11-24T11:59:59Z"}
        for kind, status in (("Ready", ready), ("MemoryPressure", "False"), ("DiskPressure", "False"))
    ]
    return {
        "metadata": {"name": "n1", "creationTimestamp": "2026-11-24T11:00:00Z"},
        "spec": {"taints": taints or []},
        "status": {"conditions": conditions},
    }


def test_a_lost_connection_turns_the_health_conditions_unknown_with_its_reason() -> None:
    update = lastwill.connection_lost(_node(), NOW)
    assert update is not None
    by_type = {c["type"]: c for c in update.conditions}
    assert {k: c["status"] for k, c in by_type.items()} == {
        "Ready": "Unknown",
        "MemoryPressure": "Unknown",
        "DiskPressure": "Unknown",
        "PIDPressure": "Unknown",
    }
    assert by_type["Ready"]["reason"] == lastwill.REASON
    assert by_type["Ready"]["message"] == lastwill.MESSAGE
    assert by_type["Ready"]["lastHeartbeatTime"] == "2026-11-24T11:59:59Z"  # unchanged, as on the grace path
    assert by_type["Ready"]["lastTransitionTime"] == "2026-11-24T12:00:00Z"
    assert by_type["PIDPressure"]["reason"] == "NodeStatusNeverUpdated"


def test_it_brings_the_unreachable_taints_and_keeps_others() -> None:
    own = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    update = lastwill.connection_lost(_node(taints=[own]), NOW)
    assert update is not None and update.taints is not None
    assert update.taints[0] == own
    assert {(t["key"], t["effect"]) for t in update.taints[1:]} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    }
    node = lastwill.apply(_node(taints=[own]), update)
    assert node["spec"]["taints"] == update.taints and node["status"]["conditions"] == update.conditions


def test_a_node_already_unknown_is_left_alone() -> None:
    first = lastwill.connection_lost(_node(), NOW)
    assert first is not None
    assert lastwill.connection_lost(lastwill.apply(_node(), first), NOW) is None


def test_the_silence_watchdog_says_so() -> None:
    update = lastwill.connection_lost(_node(), NOW, lastwill.SILENT)
    assert update is not None
    assert next(c for c in update.conditions if c["type"] == "Ready")["message"] == lastwill.SILENT
