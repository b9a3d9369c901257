"""build_pod_status: phase, conditions, container statuses, QoS, transition times."""

from __future__ import annotations

from typing import Any

import pytest

from agent.observation import BackoffState
from agent.probe_state import ContainerHealth
from agent.status import build_pod_status
from agent.timestamps import rfc3339
from tests.unit.agent.builders import container, exited, running, view

NOW = 1_795_000_000.0
HOST = "10.0.0.7"


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """type -> (status, reason)."""
    return {c["type"]: (c["status"], c.get("reason", "")) for c in status["conditions"]}


def test_running_container_is_ready() -> None:
    p = view(containers=[container("agent")])
    status = build_pod_status(p, [running(p, "agent", started=NOW - 5)], NOW, host_ip=HOST)
    assert status["phase"] == "Running"
    assert conditions(status) == {
        "PodReadyToStartContainers": ("True", ""),
        "Initialized": ("True", ""),
        "Ready": ("True", ""),
        "ContainersReady": ("True", ""),
        "PodScheduled": ("True", ""),
    }
    [cs] = status["containerStatuses"]
    assert cs == {
        "name": "agent",
        "image": "busybox",
        "imageID": "",
        "containerID": "miniplane://cid-agent-0",
        "ready": True,
        "started": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": rfc3339(NOW - 5)}},
        "lastState": {},
    }
    assert (status["hostIP"], status["podIP"], status["podIPs"]) == (HOST, HOST, [{"ip": HOST}])
    assert status["hostIPs"] == [{"ip": HOST}]
    assert (status["startTime"], status["qosClass"]) == (rfc3339(NOW), "BestEffort")


def test_crash_looping_pod_matches_the_kubelet_example() -> None:
    p = view(name="agent-x7k2p", uid="u-1", containers=[container("agent")])
    obs = exited(
        p, "agent", code=1, started=NOW - 12, finished=NOW - 10, restarts=3, backoff=BackoffState(40, NOW - 50)
    )
    status = build_pod_status(p, [obs], NOW, host_ip=HOST)
    assert status["phase"] == "Running"
    unready = "containers with unready status: [agent]"
    assert [(c["type"], c["status"], c.get("message")) for c in status["conditions"]] == [
        ("PodReadyToStartContainers", "True", None),
        ("Initialized", "True", None),
        ("Ready", "False", unready),
        ("ContainersReady", "False", unready),
        ("PodScheduled", "True", None),
    ]
    [cs] = status["containerStatuses"]
    assert (cs["ready"], cs["started"], cs["restartCount"]) == (False, False, 3)
    assert cs["state"] == {
        "waiting": {
            "reason": "CrashLoopBackOff",
            "message": "back-off 40s restarting failed container=agent pod=agent-x7k2p_default(u-1)",
        }
    }
    assert cs["lastState"]["terminated"] == {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": rfc3339(NOW - 12),
        "finishedAt": rfc3339(NOW - 10),
        "containerID": "miniplane://cid-agent-3",
    }


def test_waiting_for_first_start_is_pending_container_creating() -> None:
    p = view()
    status = build_pod_status(p, [], NOW, host_ip=HOST)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert "containerID" not in status["containerStatuses"][0]
    assert conditions(status)["PodReadyToStartContainers"] == ("False", "")
    assert conditions(status)["Ready"] == ("False", "ContainersNotReady")


def test_missing_executable_is_run_container_error_and_keeps_the_pod_pending() -> None:
    p = view()
    message = 'failed to start container process: exec: "nope": executable file not found in $PATH'
    obs = exited(p, code=128, finished=NOW, reason="StartError", message=message)
    status = build_pod_status(p, [obs], NOW, host_ip=HOST)
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "RunContainerError", "message": message}}
    assert status["phase"] == "Pending"


def test_exit_shown_as_terminated_between_crash_and_immediate_restart() -> None:
    p = view()
    status = build_pod_status(p, [exited(p, code=0, finished=NOW)], NOW, host_ip=HOST)
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert status["phase"] == "Running"  # restartPolicy Always: it restarts


def test_oom_kill_reason() -> None:
    p = view(restartPolicy="Never")
    status = build_pod_status(p, [exited(p, code=137, reason="OOMKilled")], NOW, host_ip=HOST)
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"
    assert status["phase"] == "Failed"


def test_unready_probe_and_startup_pending() -> None:
    p = view(containers=[container("a"), container("b")])
    a, b = running(p, "a"), running(p, "b")
    health = {a.container_id: ContainerHealth(started=True, ready=False), b.container_id: ContainerHealth(False, False)}
    status = build_pod_status(p, [a, b], NOW, host_ip=HOST, health=health)
    assert [(s["ready"], s["started"]) for s in status["containerStatuses"]] == [(False, True), (False, False)]
    assert status["conditions"][2]["message"] == "containers with unready status: [a b]"


def test_transition_times_are_kept_while_conditions_keep_their_status() -> None:
    p = view()
    first = build_pod_status(p, [], NOW, host_ip=HOST)
    again = build_pod_status(p, [], NOW + 30, host_ip=HOST, previous=first)
    assert again == first  # nothing changed: identical, so the loop sends nothing
    started = build_pod_status(p, [running(p, started=NOW + 40)], NOW + 41, host_ip=HOST, previous=again)
    times = {c["type"]: c["lastTransitionTime"] for c in started["conditions"]}
    assert times["Ready"] == rfc3339(NOW + 41)
    assert times["Initialized"] == times["PodScheduled"] == rfc3339(NOW)
    assert started["startTime"] == rfc3339(NOW)


def test_deleted_pod_becomes_terminal_once_stopped() -> None:
    p = view(deletion_grace=5)
    status = build_pod_status(p, [exited(p, code=143)], NOW, host_ip=HOST)
    assert status["phase"] == "Failed"
    assert conditions(status)["Ready"] == ("False", "PodCompleted")
    clean = build_pod_status(p, [exited(p, code=0)], NOW, host_ip=HOST)
    assert clean["phase"] == "Succeeded"


def test_terminal_phase_is_never_moved_back() -> None:
    p = view(status={"phase": "Failed"})
    assert build_pod_status(p, [running(p)], NOW, host_ip=HOST)["phase"] == "Failed"


def test_init_containers() -> None:
    p = view(initContainers=[container("init")], containers=[container("app")])
    status = build_pod_status(p, [running(p, "init")], NOW, host_ip=HOST)
    assert status["phase"] == "Pending"
    assert conditions(status)["Initialized"] == ("False", "ContainersNotInitialized")
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert status["initContainerStatuses"][0]["state"]["running"]
    done = build_pod_status(p, [exited(p, "init", code=0), running(p, "app")], NOW, host_ip=HOST)
    assert (done["phase"], conditions(done)["Initialized"]) == ("Running", ("True", ""))


def test_readiness_gate_and_foreign_conditions() -> None:
    p = view(readinessGates=[{"conditionType": "example.com/lb"}])
    previous = {
        "conditions": [{"type": "example.com/lb", "status": "False"}, {"type": "DisruptionTarget", "status": "True"}]
    }
    status = build_pod_status(p, [running(p)], NOW, host_ip=HOST, previous=previous)
    assert conditions(status)["Ready"] == ("False", "ReadinessGatesNotReady")
    assert conditions(status)["ContainersReady"] == ("True", "")
    assert {"example.com/lb", "DisruptionTarget"} <= set(conditions(status))


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        pytest.param([{}], "BestEffort", id="nothing set"),
        pytest.param([{"requests": {"cpu": "0"}}], "BestEffort", id="zero does not count"),
        pytest.param([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed", id="limits only"),
        pytest.param(
            [{"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}}],
            "Guaranteed",
            id="requests equal limits in other units",
        ),
        pytest.param([{"requests": {"cpu": "100m"}}], "Burstable", id="requests only"),
        pytest.param([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable", id="one container without limits"),
    ],
)
def test_qos_class(resources: list[dict[str, Any]], qos: str) -> None:
    p = view(containers=[container(f"c{i}", resources=r) for i, r in enumerate(resources)])
    assert build_pod_status(p, [], NOW, host_ip=HOST)["qosClass"] == qos


def test_status_ignores_other_pods_observations() -> None:
    p, other = view(), view()
    status = build_pod_status(p, [running(other)], NOW, host_ip=HOST)
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_config_error_is_shown_as_waiting() -> None:
    p = view()
    obs = exited(p, code=128, reason="CreateContainerConfigError", message="env 'X': secretKeyRef is not supported")
    state = build_pod_status(p, [obs], NOW, host_ip=HOST)["containerStatuses"][0]["state"]
    message = "env 'X': secretKeyRef is not supported"
    assert state == {"waiting": {"reason": "CreateContainerConfigError", "message": message}}


def test_termination_message_is_reported() -> None:
    p = view(restartPolicy="Never")
    obs = exited(p, code=137, reason="ContainerStatusUnknown", message="lost")
    terminated = build_pod_status(p, [obs], NOW, host_ip=HOST)["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["message"]) == ("ContainerStatusUnknown", "lost")
