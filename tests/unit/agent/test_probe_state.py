"""Probe thresholds and the combined verdict (pure)."""

from __future__ import annotations

import pytest

from agent.probe_state import (
    LIVENESS,
    READINESS,
    STARTUP,
    ContainerHealth,
    ProbeSettings,
    ProbeTracker,
    container_health,
)


def results(kind: str, outcomes: str, success: int = 1, failure: int = 3) -> list[bool | None]:
    """The probe result after each outcome in `outcomes` ('+' success, '-' failure)."""
    tracker = ProbeTracker.initial(kind, ProbeSettings(success_threshold=success, failure_threshold=failure))
    seen = []
    for outcome in outcomes:
        tracker = tracker.record(outcome == "+")
        seen.append(tracker.result)
    return seen


def test_defaults_are_kubernetes() -> None:
    assert ProbeSettings.from_probe({"exec": {"command": ["true"]}}) == ProbeSettings(0, 10, 1, 1, 3)
    custom = {
        "initialDelaySeconds": 2,
        "periodSeconds": 1,
        "timeoutSeconds": 3,
        "successThreshold": 2,
        "failureThreshold": 5,
    }
    assert ProbeSettings.from_probe(custom) == ProbeSettings(2, 1, 3, 2, 5)


@pytest.mark.parametrize(
    ("kind", "outcomes", "success", "failure", "expected"),
    [
        pytest.param(READINESS, "+", 1, 3, [True], id="readiness: ready at the first success"),
        pytest.param(READINESS, "--+", 1, 3, [False, False, True], id="readiness starts unready"),
        pytest.param(
            READINESS, "++--", 2, 2, [False, True, True, False], id="readiness success and failure thresholds"
        ),
        pytest.param(READINESS, "+-+-+-", 1, 2, [True] * 6, id="alternating never reaches the failure threshold"),
        pytest.param(LIVENESS, "--", 1, 3, [True, True], id="liveness passes until the threshold"),
        pytest.param(LIVENESS, "---", 1, 3, [True, True, False], id="liveness fails at the threshold"),
        pytest.param(STARTUP, "-", 1, 3, [None], id="startup undecided"),
        pytest.param(STARTUP, "-+", 1, 3, [None, True], id="startup passes"),
        pytest.param(STARTUP, "---", 1, 3, [None, None, False], id="startup fails at the threshold"),
    ],
)
def test_thresholds(kind: str, outcomes: str, success: int, failure: int, expected: list[bool | None]) -> None:
    assert results(kind, outcomes, success, failure) == expected


def tracker(kind: str, result: bool | None) -> ProbeTracker:
    return ProbeTracker(kind, ProbeSettings(), result)


@pytest.mark.parametrize(
    ("trackers", "health"),
    [
        pytest.param({}, ContainerHealth(True, True), id="no probes: started and ready"),
        pytest.param({READINESS: tracker(READINESS, False)}, ContainerHealth(True, False), id="unready"),
        pytest.param(
            {STARTUP: tracker(STARTUP, None), READINESS: tracker(READINESS, True)},
            ContainerHealth(False, False),
            id="not started: not ready whatever readiness says",
        ),
        pytest.param(
            {STARTUP: tracker(STARTUP, None), LIVENESS: tracker(LIVENESS, False)},
            ContainerHealth(False, False),
            id="liveness does not count before startup passes",
        ),
        pytest.param(
            {STARTUP: tracker(STARTUP, False)},
            ContainerHealth(False, False, "failed startup probe"),
            id="startup failure kills",
        ),
        pytest.param(
            {LIVENESS: tracker(LIVENESS, False)},
            ContainerHealth(True, True, "failed liveness probe"),
            id="liveness failure kills, readiness untouched",
        ),
    ],
)
def test_container_health(trackers: dict[str, ProbeTracker], health: ContainerHealth) -> None:
    assert container_health(trackers) == health
