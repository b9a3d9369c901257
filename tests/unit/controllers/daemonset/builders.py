"""Small builders for DaemonSet unit tests, and an in-memory cluster that applies plans."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from miniplane.controllers.daemonset.history import plan_history
from miniplane.controllers.daemonset.plan import DaemonSetPlan, compute_plan
from miniplane.controllers.daemonset.podutil import HASH_LABEL, target_node
from miniplane.timeutil import rfc3339

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DS_UID = "uid-ds"
LABELS = {"app": "agent"}


def make_node(
    name: str,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    *,
    unschedulable: bool = False,
    allocatable: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    status = {"allocatable": allocatable or {"cpu": "4", "memory": "8Gi", "pods": "110"}}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": status}


def make_ds(
    name: str = "agent",
    *,
    image: str = "busybox:1",
    strategy: str = "RollingUpdate",
    max_unavailable: int | str | None = 1,
    max_surge: int | str | None = 0,
    min_ready: int = 0,
    generation: int = 1,
    history_limit: int | None = None,
    **pod_spec: Any,
) -> dict[str, Any]:
    """A DaemonSet; extra keyword arguments go into the template's pod spec."""
    update: dict[str, Any] = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = {"maxUnavailable": max_unavailable, "maxSurge": max_surge}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(LABELS)},
        "updateStrategy": update,
        "minReadySeconds": min_ready,
        "template": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {"containers": [{"name": "c", "image": image}], **pod_spec},
        },
    }
    if history_limit is not None:
        spec["revisionHistoryLimit"] = history_limit
    metadata = {
        "name": name,
        "namespace": "default",
        "uid": DS_UID,
        "generation": generation,
        "annotations": {"deprecated.daemonset.template.generation": str(generation)},
    }
    return {"metadata": metadata, "spec": spec, "status": {}}


def make_pod(
    name: str,
    node: str,
    *,
    hash_: str = "",
    ready: bool = False,
    ready_since: datetime = T0,
    phase: str = "Running",
    created: datetime = T0,
    bound: bool = True,
    deleting: bool = False,
    owned: bool = True,
    labels: dict[str, str] | None = None,
    generation: int | None = None,
) -> dict[str, Any]:
    pod_labels = dict(LABELS if labels is None else labels)
    if hash_:
        pod_labels[HASH_LABEL] = hash_
    if generation is not None:
        pod_labels["pod-template-generation"] = str(generation)
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "labels": pod_labels,
        "creationTimestamp": rfc3339(created),
    }
    if owned:
        meta["ownerReferences"] = [{"kind": "DaemonSet", "name": "agent", "uid": DS_UID, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = rfc3339(created)
    pinned = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    spec: dict[str, Any] = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": pinned}}}
    }
    if bound:
        spec["nodeName"] = node
    condition = {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": rfc3339(ready_since)}
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "conditions": [condition]}}


def mark_ready(pod: dict[str, Any], when: datetime, ready: bool = True) -> None:
    pod["status"]["conditions"] = [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": rfc3339(when)}
    ]


@dataclass
class Cluster:
    """Nodes, one DaemonSet, its pods and revisions; ``sync`` plans and applies like the loop would."""

    ds: dict[str, Any]
    nodes: list[dict[str, Any]]
    pods: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    now: datetime = T0
    counter: int = 0
    hash: str = ""

    def sync(self) -> DaemonSetPlan:
        """History, then one plan, applied at once (deleted pods vanish, created ones are bound)."""
        history = plan_history(self.ds, self.revisions, self.pods)
        assert not history.collision
        if history.create is not None:
            self.revisions.append(history.create)
        if history.renumber is not None:
            rev_name, number = history.renumber
            next(r for r in self.revisions if r["metadata"]["name"] == rev_name)["revision"] = number
        self.hash = history.current_hash
        plan = compute_plan(self.ds, self.nodes, self.pods, self.hash, self.now)
        gone = set(plan.delete)
        self.pods = [p for p in self.pods if p["metadata"]["name"] not in gone]
        for body in plan.new_pods:
            self.counter += 1
            pod = copy.deepcopy(body)
            pod["metadata"]["name"] = f"{body['metadata']['generateName']}{self.counter}"
            pod["metadata"]["creationTimestamp"] = rfc3339(self.now)
            pod["spec"]["nodeName"] = target_node(pod)
            pod["status"] = {"phase": "Running"}
            self.pods.append(pod)
        self.revisions = [r for r in self.revisions if r["metadata"]["name"] not in history.prune]
        return plan

    def settle(self, limit: int = 20) -> int:
        """Sync until a plan changes nothing; returns the number of syncs that did something."""
        for done in range(limit):
            plan = self.sync()
            if not plan.create_on and not plan.delete:
                return done
        raise AssertionError("no fixed point")

    def ready_all(self, after: timedelta = timedelta(0)) -> None:
        for pod in self.pods:
            if not any(c.get("status") == "True" for c in pod["status"].get("conditions", [])):
                mark_ready(pod, self.now + after)

    def update_template(self, **changes: Any) -> None:
        generation = self.ds["metadata"]["generation"] + 1
        self.ds["metadata"]["generation"] = generation
        self.ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] = str(generation)
        self.ds["spec"]["template"]["spec"]["containers"][0].update(changes)

    def by_hash(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for pod in self.pods:
            key = pod["metadata"]["labels"].get(HASH_LABEL, "")
            counts[key] = counts.get(key, 0) + 1
        return counts
