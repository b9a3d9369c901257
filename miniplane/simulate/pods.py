"""What a simulated node does about one pod bound to it, and the status it reports (pure, no I/O).

``decide`` is the whole kubelet of a simulated node: start a new pod (report it Running and Ready
after the start delay), adopt one already Running and Ready (a restarted simulator or server: no
churn), report again when someone else reset its status (the node lifecycle controller marks the
pods of an unreachable node not ready), and finish a graceful deletion like a kubelet whose
containers stopped at once: ``DELETE`` with ``gracePeriodSeconds: 0`` and the uid as precondition.
``running_status`` builds the status with the real agent's builder, so simulated pods read exactly
like the agent's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.observation import COMPLETED, ContainerObservation, Termination
from agent.probe_state import ContainerHealth
from agent.status import build_pod_status
from agent.views import TERMINAL_PHASES, PodSpecView


class Action(enum.Enum):
    """What to do after a pod event."""

    NOTHING = "nothing"
    START = "start"  # remember the pod; report it Running and Ready after the start delay
    ADOPT = "adopt"  # remember the pod as started: the server already shows it Running and Ready
    REPORT = "report"  # report it Running and Ready now (its status was reset)
    DELETE = "delete"  # finish its graceful deletion
    FORGET = "forget"  # it is gone


@dataclass(frozen=True, slots=True)
class PodFacts:
    """The fields of a pod event the decision needs."""

    uid: str
    namespace: str
    name: str
    node: str
    deleting: bool
    phase: str
    ready: bool  # phase Running and condition Ready True

    @classmethod
    def from_pod(cls, pod: Mapping[str, Any]) -> PodFacts:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        phase = status.get("phase") or ""
        ready = phase == "Running" and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ()
        )
        return cls(
            uid=meta.get("uid", ""),
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            node=(pod.get("spec") or {}).get("nodeName") or "",
            deleting=bool(meta.get("deletionTimestamp")),
            phase=phase,
            ready=ready,
        )


@dataclass(slots=True)
class PodRecord:
    """What a simulated node remembers about one of its pods."""

    uid: str
    node: str
    started: bool = False  # reported (or found) Running and Ready
    deleting: bool = False  # the final DELETE was sent


def decide(event: str, pod: PodFacts, record: PodRecord | None) -> Action:
    """The action for one watch event (``ADDED``/``MODIFIED``/``DELETED``) of a pod bound to the node."""
    if event == "DELETED":
        return Action.FORGET
    known = record is not None and record.uid == pod.uid
    if pod.deleting:
        return Action.NOTHING if known and record is not None and record.deleting else Action.DELETE
    if pod.phase in TERMINAL_PHASES:
        return Action.NOTHING
    if not known:
        return Action.ADOPT if pod.ready else Action.START
    assert record is not None
    if record.started and not pod.ready:
        return Action.REPORT
    return Action.NOTHING


def running_status(pod: Mapping[str, Any], host_ip: str, now: float) -> dict[str, Any]:
    """The status of ``pod`` with every container running and ready since ``now`` (init containers done)."""
    view = PodSpecView.from_pod(pod)
    observed = [_observation(view.uid, spec.name, spec.image, now, init=False) for spec in view.containers]
    observed += [_observation(view.uid, spec.name, spec.image, now, init=True) for spec in view.init_containers]
    healthy = ContainerHealth(started=True, ready=True)
    health = {obs.container_id: healthy for obs in observed}
    return build_pod_status(view, observed, now, host_ip=host_ip, health=health, previous=pod.get("status") or {})


def _observation(uid: str, name: str, image: str, now: float, *, init: bool) -> ContainerObservation:
    container_id = f"sim-{uid}-{name}"
    done = Termination(container_id, 0, COMPLETED, now, now) if init else None
    return ContainerObservation(uid, name, container_id, image, now, terminated=done)


def delete_options(uid: str) -> dict[str, Any]:
    """The DeleteOptions that finish a pod's graceful deletion (only this incarnation of it)."""
    return {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
