"""The Pod row: READY, STATUS and RESTARTS derived from container states the way kubectl shows them.

Follows upstream ``printPod``: init containers first (``Init:N/M``, ``Init:<reason>``), then regular
containers from last to first so the first one's reason wins, then ``Terminating``/``Unknown`` for pods
being deleted. Sidecars (init containers with ``restartPolicy: Always``) count as containers once started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from miniplane.resources.printers.common import AGE, NAME, Cell, Obj, Printer, column, items, section
from miniplane.resources.printers.duration import human_duration, since
from miniplane.timeutil import parse_time

COLUMNS = (
    NAME,
    column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    column("Status", "The aggregate status of the containers in this pod."),
    column(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last one restarted.",
    ),
    AGE,
    column("IP", "IP address allocated to the pod.", wide=True),
    column("Node", "The node the pod is bound to.", wide=True),
    column("Nominated Node", "The node the scheduler nominated for this pod after preemption.", wide=True),
    column("Readiness Gates", "Pod conditions that must be True for the pod to be ready.", wide=True),
)

_TERMINAL_PHASES = ("Succeeded", "Failed")
_NODE_LOST = "NodeLost"


@dataclass(slots=True)
class _Restarts:
    """Restart count and the latest ``lastState.terminated.finishedAt`` over some container statuses."""

    count: int = 0
    last: datetime | None = None

    def add(self, container_status: Obj) -> None:
        self.count += int(container_status.get("restartCount") or 0)
        finished = section(section(container_status, "lastState"), "terminated").get("finishedAt")
        if finished and (self.last is None or parse_time(finished) > self.last):
            self.last = parse_time(finished)

    def text(self, now: datetime) -> str:
        """``3`` or, once a previous run has finished, ``3 (2m ago)``."""
        if self.count and self.last is not None:
            return f"{self.count} ({human_duration((now - self.last).total_seconds())} ago)"
        return str(self.count)


def _terminated_reason(terminated: Obj) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def _has_condition(pod_status: Obj, condition_type: str, /, **fields: str) -> bool:
    """Whether a condition of that type has all the given field values (``status="True"``)."""
    return any(
        c.get("type") == condition_type and all(c.get(k) == v for k, v in fields.items())
        for c in items(pod_status, "conditions")
    )


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates = items(spec, "readinessGates")
    if not gates:
        return "<none>"
    first_status: dict[str, str] = {}
    for cond in items(status, "conditions"):
        first_status.setdefault(cond.get("type", ""), cond.get("status", ""))
    passed = sum(first_status.get(g.get("conditionType", "")) == "True" for g in gates)
    return f"{passed}/{len(gates)}"


def _pod_ip(status: Obj) -> str:
    pod_ips = items(status, "podIPs")
    return status.get("podIP") or (pod_ips[0].get("ip", "") if pod_ips else "") or "<none>"


def _cells(pod: Obj, now: datetime) -> list[Cell]:
    meta, spec, status = section(pod, "metadata"), section(pod, "spec"), section(pod, "status")
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    if _has_condition(status, "PodScheduled", reason="SchedulingGated"):
        reason = "SchedulingGated"

    init_specs = items(spec, "initContainers")
    sidecar_names = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(items(spec, "containers")) + len(sidecar_names)
    ready = 0
    init_restarts, sidecar_restarts = _Restarts(), _Restarts()

    initializing = False
    for index, cs in enumerate(items(status, "initContainerStatuses")):
        is_sidecar = cs.get("name") in sidecar_names
        init_restarts.add(cs)
        if is_sidecar:
            sidecar_restarts.add(cs)
        state = section(cs, "state")
        terminated, waiting = state.get("terminated"), section(state, "waiting")
        if terminated is not None and not terminated.get("exitCode"):
            continue
        if is_sidecar and cs.get("started"):
            ready += bool(cs.get("ready"))
            continue
        initializing = True
        if terminated is not None:
            reason = "Init:" + _terminated_reason(terminated)
        elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        break

    restarts = init_restarts
    if not initializing or _has_condition(status, "Initialized", status="True"):
        restarts = sidecar_restarts
        has_running = False
        for cs in reversed(items(status, "containerStatuses")):
            restarts.add(cs)
            state = section(cs, "state")
            terminated, waiting = state.get("terminated"), section(state, "waiting")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready", status="True") else "NotReady"

    if meta.get("deletionTimestamp"):
        if status.get("reason") == _NODE_LOST:
            reason = "Unknown"
        elif phase not in _TERMINAL_PHASES:
            reason = "Terminating"

    return [
        meta.get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts.text(now),
        since(meta.get("creationTimestamp"), now),
        _pod_ip(status),
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        _readiness_gates(spec, status),
    ]


PRINTER = Printer(COLUMNS, _cells)
