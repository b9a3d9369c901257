"""The simulated kubelet's decisions and the pod status it reports (pure, plain data)."""

from __future__ import annotations

from typing import Any

import pytest

from miniplane.simulate.pods import Action, PodFacts, PodRecord, decide, delete_options, running_status

NOW = 1_790_000_000.0


def pod(
    uid: str = "u1",
    *,
    phase: str = "Pending",
    ready: bool = False,
    deleting: bool = False,
    init: bool = False,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "ns", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict[str, Any] = {"nodeName": "sim-00001", "containers": [{"name": "c", "image": "busybox:1"}]}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "busybox:1"}]
    conds = conditions if conditions is not None else [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "conditions": conds}}


def facts(**kwargs: Any) -> PodFacts:
    return PodFacts.from_pod(pod(**kwargs))


def test_facts_read_node_deletion_and_readiness() -> None:
    running = facts(phase="Running", ready=True)
    assert (running.node, running.ready, running.deleting) == ("sim-00001", True, False)
    assert not facts(phase="Running", ready=False).ready
    assert not facts(phase="Pending", ready=True).ready  # Ready counts only in phase Running
    assert facts(deleting=True).deleting


@pytest.mark.parametrize(
    ("event", "pod_facts", "record", "action"),
    [
        ("ADDED", facts(), None, Action.START),
        ("ADDED", facts(phase="Running", ready=True), None, Action.ADOPT),
        ("MODIFIED", facts(), PodRecord("u1", "n"), Action.NOTHING),  # start already scheduled
        ("MODIFIED", facts(phase="Running", ready=True), PodRecord("u1", "n", started=True), Action.NOTHING),
        ("MODIFIED", facts(phase="Running", ready=False), PodRecord("u1", "n", started=True), Action.REPORT),
        ("MODIFIED", facts(uid="u2"), PodRecord("u1", "n", started=True), Action.START),  # same name, new pod
        ("MODIFIED", facts(deleting=True), PodRecord("u1", "n", started=True), Action.DELETE),
        ("MODIFIED", facts(deleting=True), PodRecord("u1", "n", deleting=True), Action.NOTHING),
        ("MODIFIED", facts(deleting=True), None, Action.DELETE),
        ("MODIFIED", facts(phase="Failed"), PodRecord("u1", "n", started=True), Action.NOTHING),
        ("DELETED", facts(), PodRecord("u1", "n"), Action.FORGET),
    ],
)
def test_decide(event: str, pod_facts: PodFacts, record: PodRecord | None, action: Action) -> None:
    assert decide(event, pod_facts, record) is action


def test_running_status_reads_like_the_agents() -> None:
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    status = running_status(pod(conditions=[scheduled]), "10.0.0.2", NOW)
    assert status["phase"] == "Running"
    assert (status["hostIP"], status["podIP"], status["podIPs"]) == ("10.0.0.2", "10.0.0.2", [{"ip": "10.0.0.2"}])
    assert status["startTime"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert {k: c["status"] for k, c in conditions.items()} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert conditions["PodScheduled"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"  # kept from the server
    [container] = status["containerStatuses"]
    assert container["ready"] and container["started"] and "running" in container["state"]
    assert (container["name"], container["image"]) == ("c", "busybox:1")
    assert container["containerID"].startswith("miniplane://sim-u1-")
    assert PodFacts.from_pod({**pod(), "status": status}).ready


def test_running_status_completes_init_containers() -> None:
    status = running_status(pod(init=True), "10.0.0.2", NOW)
    [setup] = status["initContainerStatuses"]
    assert setup["state"]["terminated"]["exitCode"] == 0
    assert status["phase"] == "Running"


def test_delete_options_finish_only_this_incarnation() -> None:
    assert delete_options("u1") == {"gracePeriodSeconds": 0, "preconditions": {"uid": "u1"}}
