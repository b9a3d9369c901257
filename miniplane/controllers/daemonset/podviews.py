"""The pods a DaemonSet's syncs plan with: decoded once per pod version, kept between syncs.

Each sync still lists the namespace's pods from the store (the truth, so a sync always sees the
pods the previous one created), but decodes only those whose resourceVersion changed since the
last sync of the same DaemonSet; the others reuse their planning view. On 10,000 nodes a sync
that a node join or one pod's status triggers then plans without decoding 10,000 pods.
The views are shared between syncs: planning reads them and never changes them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from miniplane.controllers.daemonset.podutil import planning_view
from miniplane.store.base import StoredObject


class PodViews:
    """Planning views of the pods each DaemonSet (by key) considered at its last sync."""

    def __init__(self) -> None:
        self._by_key: dict[Hashable, dict[str, tuple[int, dict[str, Any]]]] = {}

    def select(
        self, key: Hashable, items: Iterable[StoredObject], wanted: Callable[[StoredObject], bool]
    ) -> list[dict[str, Any]]:
        """The views of the ``wanted`` items, decoding only new or changed ones; the rest are dropped."""
        previous = self._by_key.get(key, {})
        kept: dict[str, tuple[int, dict[str, Any]]] = {}
        for obj in items:
            if not wanted(obj):
                continue
            entry = previous.get(obj.name)
            if entry is None or entry[0] != obj.rv:
                entry = (obj.rv, planning_view(obj.decode()))
            kept[obj.name] = entry
        self._by_key[key] = kept
        return [view for _, view in kept.values()]

    def forget(self, key: Hashable) -> None:
        """The DaemonSet is gone: drop its views."""
        self._by_key.pop(key, None)
