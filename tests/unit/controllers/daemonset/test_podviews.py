"""``PodViews``: one decode per pod version, kept between the syncs of one DaemonSet."""

from __future__ import annotations

from typing import Any

import pytest

from miniplane.controllers.daemonset.podutil import planning_view
from miniplane.controllers.daemonset.podviews import PodViews
from miniplane.store.base import StoredObject
from miniplane.store.memory import encode


def _pod(name: str, rv: int, phase: str = "Pending", app: str = "a") -> StoredObject:
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": app}, "managedFields": [{"manager": "m"}]},
        "spec": {"nodeName": f"node-{name}", "containers": [{"name": "c", "image": "i"}]},
        "status": {
            "phase": phase,
            "hostIP": "10.0.0.1",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
        },
    }
    return encode("pods", "ns", name, body, None, rv)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = StoredObject.decode

    def counting(self: StoredObject) -> dict[str, Any]:
        seen.append(self.name)
        return original(self)

    monkeypatch.setattr(StoredObject, "decode", counting)
    return seen


def test_unchanged_pods_are_not_decoded_again(decodes: list[str]) -> None:
    views = PodViews()
    pods = [_pod("p1", 1), _pod("p2", 2)]
    first = views.select("ds", pods, lambda o: True)
    assert decodes == ["p1", "p2"]
    second = views.select("ds", [pods[0], _pod("p2", 7, phase="Running"), _pod("p3", 8)], lambda o: True)
    assert decodes == ["p1", "p2", "p2", "p3"]
    assert second[0] is first[0]
    assert [v["status"]["phase"] for v in second] == ["Pending", "Running", "Pending"]


def test_views_are_planning_views_of_wanted_pods_only() -> None:
    views = PodViews()
    pods = [_pod("p1", 1), _pod("p2", 2, app="other")]
    selected = views.select("ds", pods, lambda o: o.labels.get("app") == "a")
    assert selected == [planning_view(pods[0].decode())]
    assert selected[0]["status"] == {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}
    assert selected[0]["spec"] == {"nodeName": "node-p1"}
    assert "managedFields" not in selected[0]["metadata"]


def test_gone_pods_and_forgotten_keys_are_dropped(decodes: list[str]) -> None:
    views = PodViews()
    p1 = _pod("p1", 1)
    views.select("ds", [p1, _pod("p2", 2)], lambda o: True)
    assert views.select("ds", [p1], lambda o: True) == [planning_view(p1.decode())]
    views.forget("ds")
    decodes.clear()
    views.select("ds", [p1], lambda o: True)
    assert decodes == ["p1"]
    views.select("other", [p1], lambda o: True)
    assert decodes == ["p1", "p1"]
