"""The agent's decision core: desired pods vs observed containers -> actions (pure).

`plan_actions` is called by the sync loop (`agent.loop`) with one snapshot of the pods bound to this node,
what the runtime reports and the current time; the loop executes the actions it returns. For each pod:

1. a pod with a deletionTimestamp, or whose API phase is already terminal, is stopped (`StopPod`), and
   once nothing runs its status is reported (`ReportStatus(final=True)` when it is being deleted);
2. otherwise init containers run one at a time to completion, then every app container is started
   (`StartContainer`), killed when a probe says so (`StopContainer`), or restarted after its back-off
   (`RestartContainer`), following the pod's restartPolicy; then `ReportStatus`;
3. pods that are observed but no longer desired are stopped, then forgotten (`ForgetPod`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.observation import BackoffState, ContainerObservation
from agent.restarts import BackoffPolicy, backoff_until, next_backoff, should_restart
from agent.views import ContainerSpec, PodSpecView


@dataclass(frozen=True)
class StartContainer:
    """Start the first instance of a container."""

    pod: PodSpecView
    container: str


@dataclass(frozen=True)
class RestartContainer:
    """Start a new instance of an exited container, recording the raised back-off."""

    pod: PodSpecView
    container: str
    backoff: BackoffState


@dataclass(frozen=True)
class StopContainer:
    """Kill one running container (failed liveness or startup probe); it restarts under back-off."""

    pod_uid: str
    container: str
    grace: float
    reason: str


@dataclass(frozen=True)
class StopPod:
    """Stop every running container of a pod: SIGTERM, `grace` seconds, SIGKILL."""

    pod_uid: str
    grace: float


@dataclass(frozen=True)
class ForgetPod:
    """Drop the runtime's records, logs and emptyDir volumes of a pod that is gone and stopped."""

    pod_uid: str


@dataclass(frozen=True)
class ReportStatus:
    """Build and send the pod's status; `final`: the pod is deleted and stopped, remove the object."""

    pod_uid: str
    final: bool = False


Action = StartContainer | RestartContainer | StopContainer | StopPod | ForgetPod | ReportStatus


def plan_actions(
    desired: Iterable[PodSpecView],
    observed: Iterable[ContainerObservation],
    now: float,
    *,
    unhealthy: Mapping[str, str] | None = None,  # container ID -> why its probe wants it killed
    policy: BackoffPolicy | None = None,
) -> list[Action]:
    """The actions that move the observed containers towards the desired pods at time `now`."""
    policy = policy or BackoffPolicy()
    by_pod: dict[str, dict[str, ContainerObservation]] = defaultdict(dict)
    for obs in observed:
        by_pod[obs.pod_uid][obs.name] = obs
    actions: list[Action] = []
    desired_uids = set()
    for pod in desired:
        desired_uids.add(pod.uid)
        actions += _plan_pod(pod, by_pod.get(pod.uid, {}), now, unhealthy or {}, policy)
    for uid, containers in by_pod.items():
        if uid in desired_uids:
            continue
        running = [obs for obs in containers.values() if obs.running]
        if running:
            actions.append(StopPod(uid, max(obs.grace_period for obs in running)))
        else:
            actions.append(ForgetPod(uid))
    return actions


def _plan_pod(
    pod: PodSpecView,
    observed: Mapping[str, ContainerObservation],
    now: float,
    unhealthy: Mapping[str, str],
    policy: BackoffPolicy,
) -> list[Action]:
    if pod.terminating or pod.terminal:
        if any(obs.running for obs in observed.values()):
            return [StopPod(pod.uid, pod.grace_period)]
        return [ReportStatus(pod.uid, final=pod.terminating)]
    actions: list[Action] = []
    for spec in pod.init_containers:
        obs = observed.get(spec.name)
        if obs is not None and obs.terminated is not None and obs.terminated.succeeded:
            continue
        actions += _plan_container(pod, spec, obs, now, unhealthy, policy)
        break
    else:
        for spec in pod.containers:
            actions += _plan_container(pod, spec, observed.get(spec.name), now, unhealthy, policy)
    actions.append(ReportStatus(pod.uid))
    return actions


def _plan_container(
    pod: PodSpecView,
    spec: ContainerSpec,
    obs: ContainerObservation | None,
    now: float,
    unhealthy: Mapping[str, str],
    policy: BackoffPolicy,
) -> list[Action]:
    if obs is None:
        return [StartContainer(pod, spec.name)]
    if obs.terminated is None:
        reason = unhealthy.get(obs.container_id)
        return [StopContainer(pod.uid, spec.name, pod.grace_period, reason)] if reason else []
    if not should_restart(pod.restart_policy, obs.terminated, init=spec.init):
        return []
    if backoff_until(obs, now, policy) is not None:
        return []
    return [RestartContainer(pod, spec.name, next_backoff(obs.backoff, obs.terminated.finished_at, now, policy))]
