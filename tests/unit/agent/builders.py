"""Small builders for agent tests: pod dicts, views and observations."""

from __future__ import annotations

import itertools
from typing import Any

from agent.observation import BackoffState, ContainerObservation, Termination, exit_reason
from agent.views import PodSpecView

_ids = itertools.count(1)


def container(name: str = "app", *, command: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    """A container dict; `command` defaults to a long sleep."""
    return {"name": name, "image": "busybox", "command": command or ["sleep", "3600"], **fields}


def pod(
    name: str = "ds-abcde",
    *,
    uid: str | None = None,
    containers: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
    deletion_grace: int | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A pod dict bound to node-a; `deletion_grace` marks it deleted with that grace period."""
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid or f"uid-{next(_ids)}"}
    if annotations:
        meta["annotations"] = annotations
    if deletion_grace is not None:
        meta["deletionTimestamp"] = "2026-11-24T07:00:00Z"
        meta["deletionGracePeriodSeconds"] = deletion_grace
    body: dict[str, Any] = {"nodeName": "node-a", "containers": containers or [container()], **spec}
    out: dict[str, Any] = {"metadata": meta, "spec": body}
    if status is not None:
        out["status"] = status
    return out


def view(**kwargs: Any) -> PodSpecView:
    """A PodSpecView of `pod(**kwargs)`."""
    return PodSpecView.from_pod(pod(**kwargs))


def running(
    p: PodSpecView,
    name: str = "app",
    *,
    started: float = 0.0,
    restarts: int = 0,
    backoff: BackoffState | None = None,
    last: Termination | None = None,
) -> ContainerObservation:
    """An observation of a running instance."""
    return ContainerObservation(
        pod_uid=p.uid,
        name=name,
        container_id=f"cid-{name}-{restarts}",
        image="busybox",
        started_at=started,
        restart_count=restarts,
        last_terminated=last,
        backoff=backoff or BackoffState(),
        grace_period=p.grace_period,
    )


def exited(
    p: PodSpecView,
    name: str = "app",
    *,
    code: int = 1,
    started: float = 0.0,
    finished: float = 1.0,
    restarts: int = 0,
    backoff: BackoffState | None = None,
    reason: str | None = None,
    message: str = "",
) -> ContainerObservation:
    """An observation of an instance that exited."""
    obs = running(p, name, started=started, restarts=restarts, backoff=backoff)
    term = Termination(obs.container_id, code, reason or exit_reason(code, False), started, finished, message)
    return ContainerObservation(**{**obs.__dict__, "terminated": term})
