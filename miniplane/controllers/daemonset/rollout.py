"""RollingUpdate (pure): which old pods to delete and which nodes get a new pod (§3.3–3.5).

Kubernetes' ``rollingUpdate``; ``compute_plan`` runs it after the per-node manage step, on the pods
as that step leaves them. OnDelete (§3.6) has no rollout: only manage creates and deletes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from miniplane.controllers.daemonset.podutil import (
    Pod,
    is_available,
    is_terminating,
    is_updated,
    name,
    template_generation,
)


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    create_on: tuple[str, ...] = ()  # node names
    delete: tuple[str, ...] = ()  # pod names


def scaled(value: int | str | None, total: int) -> int:
    """An int, or ``"N%"`` of ``total`` rounded UP (DaemonSets round up); unparsable counts as 0."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return math.ceil(int(value[:-1]) * total / 100)
    return 0


def _rolling(ds: Mapping[str, Any]) -> Mapping[str, Any] | None:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    return (strategy.get("rollingUpdate") or {}) if strategy.get("type") == "RollingUpdate" else None


def surge_count(ds: Mapping[str, Any], desired: int) -> int:
    rolling = _rolling(ds)
    return scaled(rolling.get("maxSurge"), desired) if rolling else 0


def unavailable_count(ds: Mapping[str, Any], desired: int) -> int:
    rolling = _rolling(ds)
    return scaled(rolling.get("maxUnavailable"), desired) if rolling else 0


def allows_surge(ds: Mapping[str, Any]) -> bool:
    """Whether manage may keep an old and a new pod on one node (maxSurge of one node is not 0)."""
    return surge_count(ds, 1) != 0


def rolling_update(
    ds: Mapping[str, Any],
    should_run: Mapping[str, bool],  # every existing node -> shouldRun
    pods_by_node: Mapping[str, Sequence[Pod]],  # claimed pods by target node (may name missing nodes)
    current_hash: str,
    now: datetime,
) -> RolloutPlan:
    """Deletions (no surge) or creations and deletions (surge) that respect the budget."""
    desired = sum(should_run.values())
    by_node = {n: list(pods_by_node.get(n, ())) for n, wanted in should_run.items() if wanted}
    by_node.update({n: list(p) for n, p in pods_by_node.items()})
    max_surge, max_unavailable = surge_count(ds, desired), unavailable_count(ds, desired)
    if desired > 0 and max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)

    def available(pod: Pod) -> bool:
        return is_available(pod, min_ready, now)

    pairs = {n: _old_and_new(pods, current_hash, generation) for n, pods in by_node.items()}
    if max_surge == 0:
        return _without_surge(pairs, max_unavailable, available)
    return _with_surge(pairs, should_run, desired, max_surge, available)


Pair = tuple[Pod | None, Pod | None] | None  # (old, new); None when a node has several of either
Available = Callable[[Pod], bool]


def _old_and_new(pods: Sequence[Pod], current_hash: str, generation: int | None) -> Pair:
    old: Pod | None = None
    new: Pod | None = None
    for pod in pods:
        if is_terminating(pod):
            continue
        if is_updated(pod, current_hash, generation):
            if new is not None:
                return None
            new = pod
        else:
            if old is not None:
                return None
            old = pod
    return old, new


def _without_surge(pairs: Mapping[str, Pair], max_unavailable: int, available: Available) -> RolloutPlan:
    # Assumptions / Invariants:
    # - manage keeps at most one pod per node, creates the missing ones, handles failed pods;
    # - deleted (terminating) pods do not count as unavailable, so updates progress when nodes are down;
    # - new pods that are unavailable count against maxUnavailable;
    # - an old pod that is not available is replaced at once, outside the budget;
    # - an available old pod is a candidate, deleted only while unavailable < maxUnavailable.
    unavailable = 0
    replace: list[str] = []
    candidates: list[str] = []
    for pair in pairs.values():
        old, new = pair if pair is not None else (None, None)
        if old is None and new is not None:
            unavailable += not available(new)
        elif old is None or new is not None:
            unavailable += 1  # several pods, none, or one old and one new: manage sorts it out
        elif not available(old):
            replace.append(name(old))
            unavailable += 1
        else:
            candidates.append(name(old))
    budget = min(len(candidates), max(0, max_unavailable - unavailable))
    return RolloutPlan(delete=tuple(replace + candidates[:budget]))


def _with_surge(
    pairs: Mapping[str, Pair], should_run: Mapping[str, bool], desired: int, max_surge: int, available: Any
) -> RolloutPlan:
    # Assumptions / Invariants:
    # - manage keeps at most two pods per node (one old, one new) and creates a pod on empty nodes;
    # - a node whose old pod is unavailable gets a new pod at once, outside the surge budget;
    # - an old available pod is deleted once the new pod on its node is available;
    # - at most maxSurge new pods exist beside available old pods at any time;
    # - availability never drops below desired: old available pods on nodes that stopped matching
    #   ("sunset") are deleted only while more nodes than desired have an available pod.
    surging = available_nodes = 0
    delete: list[str] = []
    sunset: list[str] = []
    replace: list[str] = []
    candidates: list[str] = []
    for node_name, pair in pairs.items():
        if pair is None:
            surging += 1
            continue
        old, new = pair
        shown = old if old is not None else new
        available_nodes += shown is not None and available(shown)
        if old is None:
            continue
        if new is not None:
            if available(new):
                delete.append(name(old))
            else:
                surging += 1
            continue
        if node_name not in should_run:
            return RolloutPlan()  # upstream fails the whole step when a pod's node is gone
        if not available(old) and should_run[node_name]:
            replace.append(node_name)
        elif not available(old):
            delete.append(name(old))
        elif not should_run[node_name]:
            sunset.append(name(old))
        else:
            candidates.append(node_name)
    delete.extend(sunset[: max(0, available_nodes - desired)])
    budget = min(len(candidates), max(0, max_surge - surging))
    return RolloutPlan(create_on=tuple(replace + candidates[:budget]), delete=tuple(delete))
