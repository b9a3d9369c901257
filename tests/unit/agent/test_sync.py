"""plan_actions: one table of single decisions, then scenarios replayed on the fake runtime."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.observation import BackoffState, ContainerObservation
from agent.restarts import BackoffPolicy
from agent.runtime.fake import FakeRuntime
from agent.sync import (
    Action,
    ForgetPod,
    ReportStatus,
    RestartContainer,
    StartContainer,
    StopContainer,
    StopPod,
    plan_actions,
)
from agent.views import PodSpecView
from tests.unit.agent.builders import container, exited, running, view

FAKE = "fake.miniplane.io/"


def summary(actions: Sequence[Action]) -> list[str]:
    """Actions as short sentences, pod UIDs left out."""
    out = []
    for action in actions:
        if isinstance(action, StartContainer):
            out.append(f"start {action.container}")
        elif isinstance(action, RestartContainer):
            out.append(f"restart {action.container} backoff={action.backoff.delay:g}")
        elif isinstance(action, StopContainer):
            out.append(f"stop {action.container} grace={action.grace:g} ({action.reason})")
        elif isinstance(action, StopPod):
            out.append(f"stop pod grace={action.grace:g}")
        elif isinstance(action, ForgetPod):
            out.append("forget pod")
        elif isinstance(action, ReportStatus):
            out.append("report final" if action.final else "report")
    return out


POD = view(containers=[container("app")])
TWO = view(containers=[container("app"), container("side")])
DELETED = view(deletion_grace=5)
NEVER = view(restartPolicy="Never")
ON_FAILURE = view(restartPolicy="OnFailure")
FAILED = view(status={"phase": "Failed"})
WITH_INIT = view(initContainers=[container("init1"), container("init2")], containers=[container("app")])


def case(
    id: str, desired: list[PodSpecView], observed: list[ContainerObservation], now: float, expected: list[str]
) -> object:
    return pytest.param(desired, observed, now, expected, id=id)


@pytest.mark.parametrize(
    ("desired", "observed", "now", "expected"),
    [
        case("new pod: start every container", [TWO], [], 0, ["start app", "start side", "report"]),
        case("running container: nothing to do", [POD], [running(POD)], 5, ["report"]),
        case("first crash restarts at once", [POD], [exited(POD, finished=3)], 3, ["restart app backoff=10", "report"]),
        case(
            "second crash waits out 10 s",
            [POD],
            [exited(POD, finished=20, restarts=1, backoff=BackoffState(10, 3))],
            29.9,
            ["report"],
        ),
        case(
            "after 10 s the delay doubles",
            [POD],
            [exited(POD, finished=20, restarts=1, backoff=BackoffState(10, 3))],
            30,
            ["restart app backoff=20", "report"],
        ),
        case(
            "the delay is capped at 300 s",
            [POD],
            [exited(POD, finished=1000, restarts=9, backoff=BackoffState(300, 990))],
            1300,
            ["restart app backoff=300", "report"],
        ),
        case(
            "10 minutes of running resets the back-off",
            [POD],
            [exited(POD, finished=1000, restarts=9, backoff=BackoffState(300, 399))],
            1000,
            ["restart app backoff=10", "report"],
        ),
        case("Never: an exit is final", [NEVER], [exited(NEVER)], 50, ["report"]),
        case("OnFailure: a clean exit is final", [ON_FAILURE], [exited(ON_FAILURE, code=0)], 50, ["report"]),
        case(
            "OnFailure: a failure restarts",
            [ON_FAILURE],
            [exited(ON_FAILURE)],
            50,
            ["restart app backoff=10", "report"],
        ),
        case("Always: a clean exit restarts", [POD], [exited(POD, code=0)], 50, ["restart app backoff=10", "report"]),
        case("deleted pod: graceful stop", [DELETED], [running(DELETED)], 5, ["stop pod grace=5"]),
        case("deleted pod, stopped: final status", [DELETED], [exited(DELETED)], 5, ["report final"]),
        case("deleted pod never started: final status", [DELETED], [], 5, ["report final"]),
        case("terminal phase in the API: stop, no restart", [FAILED], [running(FAILED)], 5, ["stop pod grace=30"]),
        case("terminal phase, stopped: keep reporting", [FAILED], [exited(FAILED)], 5, ["report"]),
        case("pod gone: stop with its recorded grace", [], [running(POD)], 5, ["stop pod grace=30"]),
        case("pod gone and stopped: forget it", [], [exited(POD)], 5, ["forget pod"]),
        case("init containers run first, one at a time", [WITH_INIT], [], 0, ["start init1", "report"]),
        case(
            "a running init container blocks the next",
            [WITH_INIT],
            [running(WITH_INIT, "init1")],
            1,
            ["report"],
        ),
        case(
            "after the init containers, the app",
            [WITH_INIT],
            [exited(WITH_INIT, "init1", code=0), exited(WITH_INIT, "init2", code=0)],
            2,
            ["start app", "report"],
        ),
        case(
            "a failed init container restarts under back-off",
            [WITH_INIT],
            [exited(WITH_INIT, "init1", code=2)],
            2,
            ["restart init1 backoff=10", "report"],
        ),
        case(
            "a start failure is retried like a crash",
            [POD],
            [exited(POD, code=128, reason="StartError", message="exec: not found")],
            1,
            ["restart app backoff=10", "report"],
        ),
    ],
)
def test_plan(
    desired: list[PodSpecView], observed: list[ContainerObservation], now: float, expected: list[str]
) -> None:
    assert summary(plan_actions(desired, observed, now)) == expected


def test_failed_liveness_kills_the_running_instance_only() -> None:
    obs = running(TWO, "app")
    actions = plan_actions([TWO], [obs, running(TWO, "side")], 5, unhealthy={obs.container_id: "failed liveness probe"})
    assert summary(actions) == ["stop app grace=30 (failed liveness probe)", "report"]


def test_backoff_parameters_are_configurable() -> None:
    policy = BackoffPolicy(initial=1, maximum=4, reset_after=8)
    obs = exited(POD, finished=10, restarts=3, backoff=BackoffState(4, 9))
    assert summary(plan_actions([POD], [obs], 13.9, policy=policy)) == ["report"]
    assert summary(plan_actions([POD], [obs], 14, policy=policy)) == ["restart app backoff=4", "report"]


class Clock:
    """A hand-stepped clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def drive(runtime: FakeRuntime, pods: list[PodSpecView], clock: Clock, until: float) -> list[float]:
    """Plan and apply every 0.5 s until `until`; returns when containers were (re)started."""
    starts = []
    while clock.now < until:
        for action in plan_actions(pods, runtime.observe(), clock.now):
            if isinstance(action, StartContainer | RestartContainer):
                backoff = action.backoff if isinstance(action, RestartContainer) else None
                await runtime.start_container(action.pod, action.container, backoff)
                starts.append(clock.now)
            elif isinstance(action, StopPod):
                await runtime.stop_pod(action.pod_uid, action.grace)
            elif isinstance(action, ForgetPod):
                await runtime.remove_pod(action.pod_uid)
        clock.now += 0.5
    return starts


async def test_crash_loop_waits_10_20_40_s_between_restarts() -> None:
    clock = Clock(1000)
    runtime = FakeRuntime(clock)
    crashing = view(annotations={FAKE + "run-for": "1", FAKE + "exit-code": "1"})
    starts = await drive(runtime, [crashing], clock, until=1000 + 700)
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    # each instance runs 1 s; the first crash restarts at once, then 10, 20, 40 ... capped at 300 s
    assert gaps == [1, 11, 21, 41, 81, 161, 301]
    obs = runtime.observe()[0]
    assert (obs.restart_count, obs.backoff.delay, obs.terminated and obs.terminated.exit_code) == (7, 300, 1)


async def test_ten_minutes_of_running_resets_the_backoff() -> None:
    clock = Clock(0)
    runtime = FakeRuntime(clock)
    slow_crash = view(annotations={FAKE + "run-for": "700", FAKE + "exit-code": "1"})
    starts = await drive(runtime, [slow_crash], clock, until=2200)
    assert starts == [0, 700, 1400, 2100]  # never a back-off wait
    assert runtime.observe()[0].backoff.delay == 10


async def test_deletion_stops_gracefully_then_reports_final() -> None:
    clock = Clock(0)
    runtime = FakeRuntime(clock)
    live = view(uid="u-del")
    await drive(runtime, [live], clock, until=1)
    deleted = view(uid="u-del", deletion_grace=5)
    assert summary(plan_actions([deleted], runtime.observe(), clock.now)) == ["stop pod grace=5"]
    await drive(runtime, [deleted], clock, until=2)
    [obs] = runtime.observe()
    assert obs.terminated is not None and obs.terminated.exit_code == 143  # SIGTERM honoured
    assert summary(plan_actions([deleted], runtime.observe(), clock.now)) == ["report final"]


async def test_removed_pod_is_stopped_then_forgotten() -> None:
    clock = Clock(0)
    runtime = FakeRuntime(clock)
    await drive(runtime, [view()], clock, until=1)
    assert summary(plan_actions([], runtime.observe(), clock.now)) == ["stop pod grace=30"]
    await drive(runtime, [], clock, until=2)
    assert runtime.observe() == []
