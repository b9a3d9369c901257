"""Restart policy and crash-loop back-off, as the kubelet computes them (pure).

Back-off is keyed per container and measured from the container's last `finishedAt`:
the first exit restarts at once; each restart raises the delay (10 s, 20 s, 40 s ... capped at 300 s)
and stamps it with the restart time; an exit more than `reset_after` (twice the cap) after that stamp,
i.e. after 10 minutes of running, starts over with an immediate restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.observation import BackoffState, ContainerObservation, Termination


@dataclass(frozen=True)
class BackoffPolicy:
    """Back-off parameters; the defaults are Kubernetes'."""

    initial: float = 10.0
    maximum: float = 300.0
    reset_after: float = 600.0


def should_restart(restart_policy: str, termination: Termination, *, init: bool = False) -> bool:
    """Whether an exited container is restarted; init containers of an `Always` pod act as `OnFailure`."""
    if restart_policy == "Always" and init:
        restart_policy = "OnFailure"
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return not termination.succeeded
    return False


def backoff_until(obs: ContainerObservation, now: float, policy: BackoffPolicy) -> float | None:
    """When an exited container may restart, or None if it may restart now."""
    state, term = obs.backoff, obs.terminated
    if term is None or state.delay <= 0 or term.finished_at - state.updated_at > policy.reset_after:
        return None
    until = term.finished_at + state.delay
    return until if now < until else None


def next_backoff(state: BackoffState, finished_at: float, now: float, policy: BackoffPolicy) -> BackoffState:
    """The back-off to record when restarting, at `now`, a container that finished at `finished_at`."""
    if state.delay <= 0 or finished_at - state.updated_at > policy.reset_after:
        return BackoffState(policy.initial, now)
    return BackoffState(min(state.delay * 2, policy.maximum), now)
