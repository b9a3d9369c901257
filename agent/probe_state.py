"""Probe settings and threshold bookkeeping (pure); `agent.probes` does the probing.

A tracker turns single probe outcomes into the probe's result: `successThreshold` consecutive successes
make it succeed, `failureThreshold` consecutive failures make it fail. Before any outcome a readiness
probe counts as failed, a liveness probe as passed and a startup probe as undecided (not started).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

STARTUP, READINESS, LIVENESS = "startup", "readiness", "liveness"
_INITIAL_RESULT: dict[str, bool | None] = {STARTUP: None, READINESS: False, LIVENESS: True}


@dataclass(frozen=True)
class ProbeSettings:
    """Timing and thresholds of one probe; the defaults are Kubernetes'."""

    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_probe(cls, probe: Mapping[str, Any]) -> ProbeSettings:
        """Read the settings of a probe dict, with defaults for what it omits."""
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


@dataclass(frozen=True)
class ProbeTracker:
    """The result of one probe of one container instance, with its consecutive counts."""

    kind: str
    settings: ProbeSettings
    result: bool | None
    successes: int = 0
    failures: int = 0

    @classmethod
    def initial(cls, kind: str, settings: ProbeSettings) -> ProbeTracker:
        """A tracker before the first outcome."""
        return cls(kind, settings, _INITIAL_RESULT[kind])

    def record(self, ok: bool) -> ProbeTracker:
        """The tracker after one more outcome."""
        if ok:
            successes = self.successes + 1
            result = True if successes >= self.settings.success_threshold else self.result
            return replace(self, successes=successes, failures=0, result=result)
        failures = self.failures + 1
        result = False if failures >= self.settings.failure_threshold else self.result
        return replace(self, successes=0, failures=failures, result=result)


@dataclass(frozen=True)
class ContainerHealth:
    """What the probes of a running container say."""

    started: bool
    ready: bool
    kill_reason: str | None = None  # set when liveness or startup failed: kill and restart the container


def initial_health(kinds: Iterable[str]) -> ContainerHealth:
    """The verdict before any probe of the given kinds has run."""
    return container_health({kind: ProbeTracker.initial(kind, ProbeSettings()) for kind in kinds})


def container_health(trackers: Mapping[str, ProbeTracker]) -> ContainerHealth:
    """Combine a running container's trackers, keyed by kind; a missing kind counts as passing."""
    startup, readiness, liveness = (trackers.get(kind) for kind in (STARTUP, READINESS, LIVENESS))
    started = startup is None or startup.result is True
    ready = started and (readiness is None or readiness.result is True)
    kill_reason = None
    if startup is not None and startup.result is False:
        kill_reason = "failed startup probe"
    elif started and liveness is not None and liveness.result is False:
        kill_reason = "failed liveness probe"
    return ContainerHealth(started=started, ready=ready, kill_reason=kill_reason)
