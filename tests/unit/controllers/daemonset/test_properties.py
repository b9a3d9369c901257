"""Safety properties of the plan over generated clusters (Nomad's reconciler property tests, in spirit)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from miniplane.controllers.daemonset.plan import compute_plan
from miniplane.controllers.daemonset.podutil import is_available, is_terminal, is_terminating, target_node
from miniplane.controllers.daemonset.rollout import scaled
from miniplane.scheduling.daemon import should_run
from tests.unit.controllers.daemonset.builders import T0, Cluster, make_ds, make_node, make_pod

NOW = T0 + timedelta(minutes=10)
HASHES = ("current", "old", "")
TAINTS = (None, "NoSchedule", "NoExecute", "PreferNoSchedule")


@st.composite
def nodes(draw: st.DrawFn) -> list[dict[str, Any]]:
    result = []
    for i in range(draw(st.integers(1, 6))):
        effect = draw(st.sampled_from(TAINTS))
        taints = [{"key": "x", "value": "y", "effect": effect}] if effect else []
        labels = {"disk": "ssd"} if draw(st.booleans()) else {}
        result.append(make_node(f"n{i}", labels, taints))
    return result


@st.composite
def daemonsets(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["unavailable", "surge", "OnDelete"]))
    selector: dict[str, Any] = {"nodeSelector": {"disk": "ssd"}} if draw(st.booleans()) else {}
    if kind == "OnDelete":
        return make_ds(strategy="OnDelete", **selector)
    budget = draw(st.one_of(st.integers(0, 3), st.sampled_from(["0%", "20%", "50%", "100%"])))
    if kind == "surge":
        return make_ds(max_unavailable=0, max_surge=budget, **selector)
    return make_ds(max_unavailable=budget, max_surge=0, **selector)


@st.composite
def pods(draw: st.DrawFn, node_list: list[dict[str, Any]], per_node: int) -> list[dict[str, Any]]:
    names = [n["metadata"]["name"] for n in node_list] + ["gone"]
    result = []
    for node in names:
        for j in range(draw(st.integers(0, per_node))):
            result.append(
                make_pod(
                    f"{node}-p{j}",
                    node,
                    hash_=draw(st.sampled_from(HASHES)),
                    ready=draw(st.booleans()),
                    phase=draw(st.sampled_from(["Running", "Running", "Pending", "Failed", "Succeeded"])),
                    created=T0 + timedelta(seconds=draw(st.integers(0, 3))),
                    bound=draw(st.booleans()),
                    deleting=draw(st.integers(0, 4)) == 0,
                )
            )
    return result


def live_by_node(pods_: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for pod in pods_:
        if not is_terminating(pod) and not is_terminal(pod):
            result.setdefault(target_node(pod) or "", []).append(pod)
    return result


def apply(pods_: list[dict[str, Any]], plan: Any) -> list[dict[str, Any]]:
    kept = [p for p in pods_ if p["metadata"]["name"] not in set(plan.delete)]
    return kept + [dict(p, status={"phase": "Pending"}) for p in plan.new_pods]


def surging(ds: dict[str, Any]) -> bool:
    return ds["spec"]["updateStrategy"].get("rollingUpdate", {}).get("maxSurge") not in (0, "0%", None)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_placements_respect_should_run_and_pods_per_node(data: st.DataObject) -> None:
    node_list, ds = data.draw(nodes()), data.draw(daemonsets())
    existing = data.draw(pods(node_list, 3))
    plan = compute_plan(ds, node_list, existing, "current", NOW)
    by_name = {n["metadata"]["name"]: n for n in node_list}
    assert all(should_run(by_name[n], ds)[0] for n in plan.create_on)
    assert len(set(plan.create_on)) == len(plan.create_on)
    assert len(set(plan.delete)) == len(plan.delete)
    before = live_by_node(existing)
    after = live_by_node(apply(existing, plan))
    allowed = 2 if surging(ds) else 1
    for node_name in plan.create_on:
        assert len(after[node_name]) <= allowed
        hashes = [p["metadata"]["labels"].get("controller-revision-hash") for p in before.get(node_name, [])]
        assert "current" not in hashes  # never a second pod of the current revision
    for node_name in by_name:
        if not should_run(by_name[node_name], ds)[1]:
            assert not after.get(node_name)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_rollout_never_deletes_past_max_unavailable(data: st.DataObject) -> None:
    node_list, ds = data.draw(nodes()), data.draw(daemonsets())
    existing = [p for p in data.draw(pods(node_list, 1)) if p["status"]["phase"] == "Running"]
    desired = [n["metadata"]["name"] for n in node_list if should_run(n, ds)[0]]
    plan = compute_plan(ds, node_list, existing, "current", NOW)

    def available_nodes(pods_: list[dict[str, Any]]) -> int:
        live = live_by_node(pods_)
        return sum(any(is_available(p, 0, NOW) for p in live.get(n, [])) for n in desired)

    before, after = available_nodes(existing), available_nodes(apply(existing, plan))
    if surging(ds) or ds["spec"]["updateStrategy"]["type"] == "OnDelete":
        assert after >= before
    else:
        budget = scaled(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], len(desired)) or 1
        assert after >= min(before, len(desired) - budget)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_plan_apply_plan_reaches_a_fixed_point(data: st.DataObject) -> None:
    node_list, ds = data.draw(nodes()), data.draw(daemonsets())
    c = Cluster(ds, node_list, now=NOW)
    c.sync()
    start = data.draw(pods(node_list, 2))
    for pod in start:
        if pod["metadata"]["labels"].get("controller-revision-hash") == "current":
            pod["metadata"]["labels"]["controller-revision-hash"] = c.hash
    c.pods = start
    c.settle(limit=30)
    names = {n["metadata"]["name"] for n in node_list}
    for _ in range(12):  # the world moves on: pods finish terminating, pod GC, new pods get Ready
        c.pods = [p for p in c.pods if not is_terminating(p) and target_node(p) in names]
        c.ready_all()
        c.now += timedelta(seconds=1)
        c.settle(limit=30)
    live = live_by_node(c.pods)
    for node in node_list:
        name = node["metadata"]["name"]
        run, keep = should_run(node, ds)
        if run:
            assert len(live.get(name, [])) == 1
        elif not keep:
            assert not live.get(name)
        if run and ds["spec"]["updateStrategy"]["type"] == "RollingUpdate":
            assert live[name][0]["metadata"]["labels"].get("controller-revision-hash") == c.hash
