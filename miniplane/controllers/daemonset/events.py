"""Events the DaemonSet controller writes on the DaemonSet (§0): reasons, types, exact messages.

The plan carries the events decided while planning (failed/succeeded pods, SelectingAll); the loop
writes the outcome events (``created``, ``deleted``, ``failed_create``, ``failed_delete``) once the
API answered, because only then is the generated pod name or the error known.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_COMPONENT = "daemonset-controller"

SUCCESSFUL_CREATE = "SuccessfulCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_CREATE = "FailedCreate"
FAILED_DELETE = "FailedDelete"
FAILED_DAEMON_POD = "FailedDaemonPod"
SUCCEEDED_DAEMON_POD = "SucceededDaemonPod"
SELECTING_ALL = "SelectingAll"

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True, slots=True)
class Event:
    """One event to record on the DaemonSet."""

    type: str
    reason: str
    message: str


def created(pod: str) -> Event:
    return Event(NORMAL, SUCCESSFUL_CREATE, f"Created pod: {pod}")


def deleted(pod: str) -> Event:
    return Event(NORMAL, SUCCESSFUL_DELETE, f"Deleted pod: {pod}")


def failed_create(error: str) -> Event:
    return Event(WARNING, FAILED_CREATE, f"Error creating: {error}")


def failed_delete(error: str) -> Event:
    return Event(WARNING, FAILED_DELETE, f"Error deleting: {error}")


def failed_daemon_pod(namespace: str, pod: str, node: str) -> Event:
    message = f"Found failed daemon pod {namespace}/{pod} on node {node}, will try to kill it"
    return Event(WARNING, FAILED_DAEMON_POD, message)


def succeeded_daemon_pod(namespace: str, pod: str, node: str) -> Event:
    message = f"Found succeeded daemon pod {namespace}/{pod} on node {node}, will try to delete it"
    return Event(NORMAL, SUCCEEDED_DAEMON_POD, message)


def selecting_all() -> Event:
    message = "This daemon set is selecting all pods. A non-empty selector is required."
    return Event(WARNING, SELECTING_ALL, message)
