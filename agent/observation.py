"""What a runtime reports about the containers it runs: plain frozen data, no I/O.

Times are Unix epoch seconds (`time.time()`), so they survive agent restarts and map directly to the
RFC 3339 timestamps of the pod status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Termination reasons. The first three are Kubernetes' terminated reasons; the last two mean the process
# never ran, and the status shows them as a waiting state.
COMPLETED = "Completed"
ERROR = "Error"
OOM_KILLED = "OOMKilled"
START_ERROR = "StartError"  # exec failed: missing executable, bad workingDir, ...
CONFIG_ERROR = "CreateContainerConfigError"  # env/volumes could not be built
START_FAILURES = frozenset({START_ERROR, CONFIG_ERROR})
START_FAILURE_EXIT_CODE = 128


@dataclass(frozen=True)
class BackoffState:
    """Restart back-off of one container: the current delay and the restart that last raised it (0 = none)."""

    delay: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class Termination:
    """How one container instance ended."""

    container_id: str
    exit_code: int
    reason: str
    started_at: float
    finished_at: float
    message: str = ""

    @property
    def start_failed(self) -> bool:
        """True when the process never ran (the status shows a waiting state)."""
        return self.reason in START_FAILURES

    @property
    def succeeded(self) -> bool:
        """True for a clean exit 0."""
        return self.reason == COMPLETED


def exit_reason(exit_code: int, oom_killed: bool) -> str:
    """Kubernetes' terminated reason for a process that ran and exited (killed by signal N: code 128+N)."""
    if oom_killed:
        return OOM_KILLED
    return COMPLETED if exit_code == 0 else ERROR


@dataclass(frozen=True)
class ContainerObservation:
    """The current instance of one container of one pod, with its restart history."""

    pod_uid: str
    name: str
    container_id: str
    image: str
    started_at: float
    restart_count: int = 0
    terminated: Termination | None = None  # None while the process runs
    last_terminated: Termination | None = None  # the previous instance (`lastState`)
    backoff: BackoffState = field(default_factory=BackoffState)
    grace_period: float = 30.0  # recorded at start; used to stop a pod that is no longer desired

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self.terminated is None
