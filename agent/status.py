"""The pod `status` the kubelet would write, from observations, probe verdicts and the time (pure).

Called by the sync loop for every `ReportStatus` action. `previous` is the status last written (from the
API or the loop's own last report): condition `lastTransitionTime`s are kept while a condition keeps its
status, `startTime` is kept, a terminal phase is never moved back, and conditions owned by others
(readiness gates, DisruptionTarget) are carried over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agent.observation import CONFIG_ERROR, ContainerObservation, Termination
from agent.probe_state import ContainerHealth, initial_health
from agent.qos import qos_class
from agent.restarts import BackoffPolicy, backoff_until, should_restart
from agent.timestamps import rfc3339
from agent.views import TERMINAL_PHASES, ContainerSpec, PodSpecView

_OWNED = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def build_pod_status(
    pod: PodSpecView,
    observed: Iterable[ContainerObservation],
    now: float,
    *,
    host_ip: str,
    health: Mapping[str, ContainerHealth] | None = None,  # container ID -> verdict; absent: probes not run yet
    previous: Mapping[str, Any] | None = None,  # the status last written
    policy: BackoffPolicy | None = None,
) -> dict[str, Any]:
    """The full pod status at `now`."""
    previous = previous or {}
    mine = {obs.name: obs for obs in observed if obs.pod_uid == pod.uid}
    builder = _ContainerStatuses(pod, now, health or {}, policy or BackoffPolicy())
    init_statuses = [builder.build(spec, mine.get(spec.name), init_pending=False) for spec in pod.init_containers]
    incomplete = [s["name"] for s in init_statuses if _exit_code(s["state"]) != 0]
    statuses = [builder.build(spec, mine.get(spec.name), init_pending=bool(incomplete)) for spec in pod.containers]
    phase = _phase(pod, previous.get("phase"), init_statuses, statuses, incomplete)
    unready = [s["name"] for s in statuses if not s["ready"]]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": _conditions(pod, phase, bool(mine), incomplete, unready, previous, now),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": host_ip,
        "podIPs": [{"ip": host_ip}],
        "startTime": previous.get("startTime") or rfc3339(now),
        "qosClass": qos_class(pod.all_containers),
        "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return status


class _ContainerStatuses:
    """Builds `containerStatuses[]` entries for one pod."""

    def __init__(
        self, pod: PodSpecView, now: float, health: Mapping[str, ContainerHealth], policy: BackoffPolicy
    ) -> None:
        self.pod, self.now, self.health, self.policy = pod, now, health, policy

    def build(self, spec: ContainerSpec, obs: ContainerObservation | None, *, init_pending: bool) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": spec.name,
            "image": spec.image,
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": 0,
            "lastState": {},
        }
        if obs is None:
            reason = "PodInitializing" if init_pending else "ContainerCreating"
            status["state"] = {"waiting": {"reason": reason}}
            return status
        status.update(image=obs.image, containerID=f"miniplane://{obs.container_id}", restartCount=obs.restart_count)
        last = obs.last_terminated
        if obs.terminated is None:
            verdict = self.health.get(obs.container_id) or initial_health(spec.probes)
            status.update(ready=verdict.ready, started=verdict.started)
            status["state"] = {"running": {"startedAt": rfc3339(obs.started_at)}}
        elif not self._restarts(spec, obs.terminated):
            status["state"] = {"terminated": _terminated(obs.terminated)}
        elif backoff_until(obs, self.now, self.policy) is not None:
            message = (
                f"back-off {_go_duration(obs.backoff.delay)} restarting failed container={spec.name} "
                f"pod={self.pod.name}_{self.pod.namespace}({self.pod.uid})"
            )
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
            last = obs.terminated
        elif obs.terminated.start_failed:
            reason = CONFIG_ERROR if obs.terminated.reason == CONFIG_ERROR else "RunContainerError"
            status["state"] = {"waiting": {"reason": reason, "message": obs.terminated.message}}
        else:
            status["state"] = {"terminated": _terminated(obs.terminated)}
        if last is not None:
            status["lastState"] = {"terminated": _terminated(last)}
        return status

    def _restarts(self, spec: ContainerSpec, term: Termination) -> bool:
        """Whether the exited container will be started again."""
        if self.pod.terminating or self.pod.terminal:
            return False
        return should_restart(self.pod.restart_policy, term, init=spec.init)


def _terminated(term: Termination) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exitCode": term.exit_code,
        "reason": term.reason,
        "startedAt": rfc3339(term.started_at),
        "finishedAt": rfc3339(term.finished_at),
        "containerID": f"miniplane://{term.container_id}",
    }
    if term.message:
        out["message"] = term.message
    return out


def _exit_code(state: Mapping[str, Any]) -> int | None:
    return state["terminated"]["exitCode"] if "terminated" in state else None


def _phase(
    pod: PodSpecView,
    previous_phase: str | None,
    init_statuses: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    incomplete_init: list[str],
) -> str:
    """The kubelet's getPhase: terminal phases stick; Pending while a container waits for its first run."""
    for known in (pod.phase, previous_phase):
        if known in TERMINAL_PHASES:
            return known
    if incomplete_init:
        failed_init = any((_exit_code(s["state"]) or 0) != 0 for s in init_statuses)
        return "Failed" if pod.restart_policy == "Never" and failed_init else "Pending"
    running = waiting = stopped = succeeded = 0
    for status in statuses:
        state = status["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif status["lastState"]:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if pod.terminating or pod.restart_policy == "Never":
        return "Succeeded" if stopped == succeeded else "Failed"
    if pod.restart_policy == "OnFailure" and stopped == succeeded:
        return "Succeeded"
    return "Running"


def _conditions(
    pod: PodSpecView,
    phase: str,
    sandbox: bool,
    incomplete_init: list[str],
    unready: list[str],
    previous: Mapping[str, Any],
    now: float,
) -> list[dict[str, Any]]:
    before = {c["type"]: c for c in previous.get("conditions") or ()}
    terminal = phase in TERMINAL_PHASES
    if terminal:
        containers_ready = (False, "PodCompleted", "")
    elif unready:
        containers_ready = (
            False,
            "ContainersNotReady",
            f"containers with unready status: [{' '.join(unready)}]",
        )
    else:
        containers_ready = (True, "", "")
    ready = containers_ready
    if ready[0]:
        ready = _readiness_gates(pod, before)
    initialized = (True, "", "")
    if incomplete_init:
        names = " ".join(incomplete_init)
        initialized = (False, "ContainersNotInitialized", f"containers with incomplete status: [{names}]")
    wanted = {
        "PodReadyToStartContainers": (sandbox, "", ""),
        "Initialized": initialized,
        "Ready": ready,
        "ContainersReady": containers_ready,
    }
    conditions = [_condition(kind, *value, before.get(kind), now) for kind, value in wanted.items()]
    conditions.append(dict(before.get("PodScheduled") or _condition("PodScheduled", True, "", "", None, now)))
    conditions += [dict(c) for kind, c in before.items() if kind not in _OWNED]
    return conditions


def _readiness_gates(pod: PodSpecView, before: Mapping[str, Mapping[str, Any]]) -> tuple[bool, str, str]:
    for gate in pod.readiness_gates:
        condition = before.get(gate)
        if condition is None:
            message = f'corresponding condition of pod readiness gate "{gate}" does not exist.'
            return (False, "ReadinessGatesNotReady", message)
        if condition.get("status") != "True":
            message = f'the status of pod readiness gate "{gate}" is not "True", but {condition.get("status")}'
            return (False, "ReadinessGatesNotReady", message)
    return (True, "", "")


def _condition(
    kind: str, ok: bool, reason: str, message: str, before: Mapping[str, Any] | None, now: float
) -> dict[str, Any]:
    status = "True" if ok else "False"
    kept = before.get("lastTransitionTime") if before and before.get("status") == status else None
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": kept or rfc3339(now),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _go_duration(seconds: float) -> str:
    """Seconds in Go's `time.Duration` form: `10s`, `1m20s`, `5m0s`, `500ms`."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:g}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text
