"""The Prometheus text format of miniplane.metrics, the verb table and the work queue collector."""

from __future__ import annotations

import asyncio

import pytest

from miniplane import metrics
from miniplane.controllers.workqueue import WorkQueue
from miniplane.store.base import StoreStatistics


def test_counter_and_gauge_render_help_type_and_sorted_series() -> None:
    requests = metrics.Counter("x_requests_total", "Requests.\nSecond line", ("verb", "code"))
    requests.inc("list", "200")
    requests.inc("get", "404", amount=2)
    requests.inc("get", "404")
    depth = metrics.Gauge("x_depth", "Depth.")
    depth.set(2.5)
    text = metrics.render([requests, depth])
    assert text == (
        "# HELP x_requests_total Requests.\\nSecond line\n"
        "# TYPE x_requests_total counter\n"
        'x_requests_total{verb="get",code="404"} 3\n'
        'x_requests_total{verb="list",code="200"} 1\n'
        "# HELP x_depth Depth.\n"
        "# TYPE x_depth gauge\n"
        "x_depth 2.5\n"
    )


def test_label_values_are_escaped_and_parse_reads_them_back() -> None:
    gauge = metrics.Gauge("g", "G.", ("path",))
    gauge.set(7, 'a"b\\c\nd')
    text = metrics.render([gauge])
    assert 'g{path="a\\"b\\\\c\\nd"} 7' in text
    assert metrics.parse(text) == {"g": {('path=a"b\\c\nd',): 7.0}}


def test_histogram_buckets_are_cumulative_with_sum_count_and_inf() -> None:
    hist = metrics.Histogram("h_seconds", "H.", ("verb",), buckets=(0.1, 1.0))
    series = hist.labels("get")
    for value in (0.05, 0.1, 0.5, 3.0):
        series.observe(value)
    samples = metrics.parse(metrics.render([hist]))
    assert samples["h_seconds_bucket"] == {
        ("le=0.1", "verb=get"): 2.0,
        ("le=1", "verb=get"): 3.0,
        ("le=+Inf", "verb=get"): 4.0,
    }
    assert samples["h_seconds_count"] == {("verb=get",): 4.0}
    assert samples["h_seconds_sum"][("verb=get",)] == pytest.approx(3.65)


def test_wrong_label_count_and_negative_counter_are_refused() -> None:
    counter = metrics.Counter("c_total", "C.", ("a",))
    with pytest.raises(ValueError):
        counter.inc("x", "y")
    with pytest.raises(ValueError):
        counter.inc("x", amount=-1)
    with pytest.raises(ValueError):
        metrics.Histogram("h", "H.", ("a", "b")).labels("x")


def test_registry_collectors_replace_and_remove() -> None:
    registry = metrics.Registry()
    registry.register(metrics.Counter("fixed_total", "F."))
    with pytest.raises(ValueError):
        registry.register(metrics.Counter("fixed_total", "F."))

    def collector(value: float) -> metrics.Collector:
        def collect() -> list[metrics.Metric]:
            gauge = metrics.Gauge("live", "L.")
            gauge.set(value)
            return [gauge]

        return collect

    registry.set_collector("k", collector(1))
    registry.set_collector("k", collector(2))
    assert metrics.parse(registry.render())["live"] == {(): 2.0}
    registry.set_collector("k", None)
    assert "live" not in metrics.parse(registry.render())


@pytest.mark.parametrize(
    ("method", "collection", "watch", "verb"),
    [
        ("GET", False, False, "get"),
        ("GET", True, False, "list"),
        ("GET", True, True, "watch"),
        ("POST", True, False, "create"),
        ("PUT", False, False, "update"),
        ("PATCH", False, False, "patch"),
        ("DELETE", False, False, "delete"),
        ("DELETE", True, False, "deletecollection"),
    ],
)
def test_request_verb(method: str, collection: bool, watch: bool, verb: str) -> None:
    assert metrics.request_verb(method, collection, watch) == verb


def test_store_metrics_count_objects_per_resource() -> None:
    stats = StoreStatistics(current_rv=42, objects={"pods": 3, "leases.coordination.k8s.io": 2}, watchers=5)
    samples = metrics.parse(metrics.render(metrics.store_metrics(stats)))
    assert samples["apiserver_storage_objects"] == {
        ("resource=leases.coordination.k8s.io",): 2.0,
        ("resource=pods",): 3.0,
    }
    assert samples["miniplane_store_watchers"] == {(): 5.0}
    assert samples["miniplane_store_resource_version"] == {(): 42.0}


class _Controller:
    def __init__(self, queue: object) -> None:
        self.queue = queue


async def test_workqueue_metrics_report_depth_adds_and_work_time() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a"):
        queue.add(key)
    key = await queue.get()
    queue.done(key)
    plain: asyncio.Queue[int] = asyncio.Queue()
    plain.put_nowait(1)
    controllers = {"daemonset": _Controller(queue), "garbage-collector": _Controller(plain), "other": None}
    samples = metrics.parse(metrics.render(metrics.workqueue_metrics(controllers)))
    assert samples["workqueue_depth"] == {("name=daemonset",): 1.0, ("name=garbage-collector",): 1.0}
    assert samples["workqueue_adds_total"] == {("name=daemonset",): 2.0}
    assert samples["workqueue_work_duration_seconds_count"] == {("name=daemonset",): 1.0}
