"""The DaemonSet predicate (every row of §1.2) and the automatic tolerations (§1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from miniplane.scheduling.daemon import add_daemon_tolerations, should_run


def node(name: str = "n1", labels: dict[str, str] | None = None, *taints: str, **spec: Any) -> dict[str, Any]:
    parsed = []
    for text in taints:
        key_value, effect = text.split(":")
        key, _, value = key_value.partition("=")
        parsed.append({"key": key, "value": value, "effect": effect})
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": parsed, **spec}}


def ds(**spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "c"}], **spec}}}}


GPU_TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("the_node", "the_ds", "expected"),
    [
        (node("n1", {"disk": "ssd"}), ds(nodeSelector={"disk": "ssd"}), (True, True)),
        (node("n1", {}), ds(nodeSelector={"disk": "ssd"}), (False, False)),
        (node("n1", {}, "dedicated=gpu:NoSchedule"), ds(), (False, True)),
        (node("n1", {}, "dedicated=gpu:NoExecute"), ds(), (False, False)),
        (node("n1", {}, "dedicated=gpu:PreferNoSchedule"), ds(), (True, True)),
        (node("n1", {}, "dedicated=gpu:NoSchedule"), ds(tolerations=[GPU_TOLERATION]), (True, True)),
        (node("n1", {}, "node.kubernetes.io/unschedulable:NoSchedule", unschedulable=True), ds(), (True, True)),
        (node("n1", {}, "node.kubernetes.io/not-ready:NoSchedule"), ds(), (False, True)),
        (
            node("n1", {}, "node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"),
            ds(),
            (False, True),
        ),
        (node("n1", {}, "node.kubernetes.io/network-unavailable:NoSchedule"), ds(hostNetwork=True), (True, True)),
        (node("n1", {}, "node.kubernetes.io/network-unavailable:NoSchedule"), ds(hostNetwork=False), (False, True)),
        (node("n1", {}), ds(), (True, True)),
        (node("n2", {}), ds(nodeName="n1"), (False, False)),
        (node("n1", {}), ds(nodeName="n1"), (True, True)),
        (node("n1", {}, "node.kubernetes.io/not-ready:NoExecute"), ds(), (True, True)),
        (node("n1", {}, "x=y:NoSchedule", "z=w:NoExecute"), ds(), (False, False)),
    ],
    ids=[
        "nodeSelector matches",
        "nodeSelector does not match: existing pod deleted",
        "untolerated NoSchedule keeps the running pod",
        "untolerated NoExecute stops the running pod",
        "PreferNoSchedule never matters",
        "tolerated NoSchedule",
        "unschedulable node is tolerated automatically",
        "not-ready NoSchedule is not tolerated",
        "unreachable NoSchedule and NoExecute: only NoExecute tolerated",
        "network-unavailable tolerated with hostNetwork",
        "network-unavailable not tolerated without hostNetwork",
        "Ready=False without taints still runs",
        "template nodeName names another node",
        "template nodeName names this node",
        "not-ready NoExecute tolerated automatically",
        "untolerated NoSchedule and NoExecute",
    ],
)
def test_should_run(the_node: dict[str, Any], the_ds: dict[str, Any], expected: tuple[bool, bool]) -> None:
    assert should_run(the_node, the_ds) == expected


AUTO = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
NETWORK = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("template", "host_network", "expected"),
    [
        ([], False, AUTO),
        ([], True, [*AUTO, NETWORK]),
        ([GPU_TOLERATION], False, [GPU_TOLERATION, *AUTO]),
        (
            [{**AUTO[0], "tolerationSeconds": 300}, GPU_TOLERATION],
            False,
            [AUTO[0], GPU_TOLERATION, *AUTO[1:]],
        ),
        ([AUTO[2]], False, [AUTO[2], AUTO[0], AUTO[1], *AUTO[3:]]),
        (
            [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}],
            False,
            [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}, *AUTO],
        ),
    ],
    ids=[
        "the always list, in order",
        "network-unavailable only with hostNetwork",
        "template tolerations come first",
        "same toleration is replaced in place and loses tolerationSeconds",
        "an identical toleration stays where it is",
        "a different effect is a different toleration",
    ],
)
def test_add_daemon_tolerations(
    template: list[dict[str, Any]], host_network: bool, expected: list[dict[str, Any]]
) -> None:
    assert add_daemon_tolerations(template, host_network) == expected
