"""``/metrics``: counters, gauges and histograms in Prometheus' text format (0.0.4), written by hand.

- ``Counter``, ``Gauge`` and ``Histogram`` are metric families with label names; ``Histogram.labels``
  returns the ``HistogramValues`` of one label set (cheap to keep and observe into on hot paths).
- ``REGISTRY`` holds the server's families and *collectors*: functions called on every scrape that
  build families from live state (store object counts, controller work queues).
- The server's families follow Kubernetes' names where one exists: ``apiserver_request_total`` and
  ``apiserver_request_duration_seconds`` (by verb, resource, subresource), ``apiserver_longrunning_requests``
  (open watches), ``apiserver_storage_objects``, ``workqueue_*``; ``miniplane_node_lease_renewals_total``
  counts heartbeat intake (Lease updates and patches in ``kube-node-lease``).
- ``request_metrics`` is the aiohttp middleware that records every request; the resource comes from the
  target the API layer stores under ``request[TARGET]``.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from aiohttp import web

from miniplane.store.base import StoreStatistics

TARGET = "miniplane.target"  # request key: the resolved api.paths.Target of a resource request
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

Labels = tuple[str, ...]
Sample = tuple[str, Labels, Labels, float]  # name suffix, label names, label values, value


class Metric:
    """A family: name, help text, type and label names; subclasses yield the samples."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def samples(self) -> Iterator[Sample]:
        """Every sample of the family, sorted by label values."""
        raise NotImplementedError

    def _check(self, values: Labels) -> None:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")


class Counter(Metric):
    """A value that only goes up."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` (never negative) to the series of ``labels``."""
        if amount < 0:
            raise ValueError("a counter cannot go down")
        values = self._values
        if labels not in values:
            self._check(labels)
            values[labels] = 0.0
        values[labels] += amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def samples(self) -> Iterator[Sample]:
        for labels in sorted(self._values):
            yield "", self.labelnames, labels, self._values[labels]


class Gauge(Metric):
    """A value that goes up and down."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[Labels, float] = {}

    def set(self, value: float, *labels: str) -> None:
        self._check(labels)
        self._values[labels] = value

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        if labels not in self._values:
            self._check(labels)
        self._values[labels] = self._values.get(labels, 0.0) + amount

    def dec(self, *labels: str, amount: float = 1.0) -> None:
        self.inc(*labels, amount=-amount)

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def samples(self) -> Iterator[Sample]:
        for labels in sorted(self._values):
            yield "", self.labelnames, labels, self._values[labels]


class HistogramValues:
    """Bucket counts, sum and count of one histogram series."""

    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * len(self.bounds)  # per bucket, not cumulative
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.bounds, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= bound)`` for every bucket, ending with ``+Inf``."""
        out, running = [], 0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            running += count
            out.append((bound, running))
        out.append((math.inf, self.count))
        return out


class Histogram(Metric):
    """Observations counted into buckets, per label set."""

    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(buckets)
        self._children: dict[Labels, HistogramValues] = {}

    def labels(self, *values: str) -> HistogramValues:
        """The series of ``values`` (created on first use)."""
        child = self._children.get(values)
        if child is None:
            self._check(values)
            child = self._children[values] = HistogramValues(self.buckets)
        return child

    def attach(self, values: Labels, child: HistogramValues) -> None:
        """Serve an existing series (kept by its owner) under ``values``."""
        self._check(values)
        self._children[values] = child

    def samples(self) -> Iterator[Sample]:
        for labels in sorted(self._children):
            child = self._children[labels]
            bucket_names = (*self.labelnames, "le")
            for bound, count in child.cumulative():
                yield "_bucket", bucket_names, (*labels, _number(bound)), count
            yield "_sum", self.labelnames, labels, child.sum
            yield "_count", self.labelnames, labels, child.count


Collector = Callable[[], Iterable[Metric]]


class Registry:
    """The families a scrape renders: registered ones and those collectors build at scrape time."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._collectors: dict[str, Collector] = {}

    def register(self, metric: Metric) -> Metric:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered already")
        self._metrics[metric.name] = metric
        return metric

    def set_collector(self, key: str, collector: Collector | None) -> None:
        """Install (or, with None, remove) the collector known as ``key``; a new one replaces the old."""
        if collector is None:
            self._collectors.pop(key, None)
        else:
            self._collectors[key] = collector

    def collect(self) -> list[Metric]:
        metrics = list(self._metrics.values())
        for collector in list(self._collectors.values()):
            metrics.extend(collector())
        return metrics

    def render(self) -> str:
        return render(self.collect())


def render(metrics: Iterable[Metric]) -> str:
    """The text exposition format of ``metrics``."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for suffix, names, values, value in metric.samples():
            label_text = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True))
            series = f"{metric.name}{suffix}{{{label_text}}}" if label_text else f"{metric.name}{suffix}"
            lines.append(f"{series} {_number(value)}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, dict[Labels, float]]:
    """Samples of a text exposition by series name, keyed by sorted ``name=value`` label pairs (for readers)."""
    out: dict[str, dict[Labels, float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, label_text = series.partition("{")
        labels = tuple(sorted(_split_labels(label_text.rstrip("}"))))
        out.setdefault(name, {})[labels] = float(value)
    return out


def _split_labels(text: str) -> Iterator[str]:
    """``a="x",b="y"`` → ``a=x``, ``b=y`` (values unescaped)."""
    i = 0
    while i < len(text):
        eq = text.index("=", i)
        name, j, value = text[i:eq], eq + 2, []
        while text[j] != '"':
            if text[j] == "\\":
                j += 1
                value.append("\n" if text[j] == "n" else text[j])
            else:
                value.append(text[j])
            j += 1
        yield f"{name}={''.join(value)}"
        i = j + 2  # past the closing quote and the comma


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


# ---- the server's families --------------------------------------------------------------------

REGISTRY = Registry()
REQUESTS = Counter(
    "apiserver_request_total",
    "Requests served, by verb, resource, subresource and HTTP code.",
    ("verb", "resource", "subresource", "code"),
)
REQUEST_SECONDS = Histogram(
    "apiserver_request_duration_seconds",
    "Time to answer a request (watches excluded), by verb, resource and subresource.",
    ("verb", "resource", "subresource"),
)
WATCHES = Gauge("apiserver_longrunning_requests", "Open watch streams, by resource.", ("verb", "resource"))
LEASE_RENEWALS = Counter(
    "miniplane_node_lease_renewals_total", "Node heartbeats taken in: successful Lease updates in kube-node-lease."
)
for _family in (REQUESTS, REQUEST_SECONDS, WATCHES, LEASE_RENEWALS):
    REGISTRY.register(_family)

NODE_LEASE_NAMESPACE = "kube-node-lease"
_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def request_verb(method: str, collection: bool, watch: bool) -> str:
    """Kubernetes' verb for a resource request: get/list/watch/create/update/patch/delete/deletecollection."""
    if method == "GET":
        return "watch" if watch else "list" if collection else "get"
    if method == "DELETE":
        return "deletecollection" if collection else "delete"
    return _WRITE_VERBS.get(method, method.lower())


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request (resource requests by verb and resource); gauge the open watches."""
    start = time.perf_counter()
    watch = request.method == "GET" and request.query.get("watch", "").lower() in ("true", "1")
    code = 500
    try:
        if watch:
            WATCHES.inc("WATCH", _resource_of(request.path))
        response = await handler(request)
        code = response.status
        return response
    except web.HTTPException as exc:
        code = exc.status
        raise
    finally:
        if watch:
            WATCHES.dec("WATCH", _resource_of(request.path))
        _record(request, watch, code, time.perf_counter() - start)


def _resource_of(path: str) -> str:
    """The resource a watch path names (``/api/v1/namespaces/ns/pods`` → ``pods``), before routing."""
    parts = [p for p in path.split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    return rest[0] if rest else ""


def _record(request: web.Request, watch: bool, code: int, seconds: float) -> None:
    target: Any = request.get(TARGET)
    if target is None:
        verb, resource, subresource = request.method.lower(), "", ""
    else:
        verb = request_verb(request.method, target.is_collection, watch)
        resource, subresource = target.info.plural, target.subresource
        renewal = resource == "leases" and verb in ("update", "patch") and target.namespace == NODE_LEASE_NAMESPACE
        if renewal and code < 300:
            LEASE_RENEWALS.inc()
    REQUESTS.inc(verb, resource, subresource, str(code))
    if not watch:
        REQUEST_SECONDS.labels(verb, resource, subresource).observe(seconds)


def store_metrics(stats: StoreStatistics) -> list[Metric]:
    """Object counts per resource, watchers and the current resourceVersion of the store."""
    objects = Gauge("apiserver_storage_objects", "Objects stored, by resource.", ("resource",))
    for resource, count in stats.objects.items():
        objects.set(count, resource)
    watchers = Gauge("miniplane_store_watchers", "Store watchers (API watch streams and controllers' feeds).")
    watchers.set(stats.watchers)
    rv = Gauge("miniplane_store_resource_version", "The store's newest resourceVersion.")
    rv.set(stats.current_rv)
    return [objects, watchers, rv]


def workqueue_metrics(controllers: Mapping[str, object]) -> list[Metric]:
    """Depth, adds, retries and work (sync) durations of each controller's ``queue``, by controller name.

    A controller's queue is a ``WorkQueue`` (``statistics()`` and ``work_seconds``) or a plain
    ``asyncio.Queue`` (depth only); it is read at scrape time, so a queue replaced after a crash is seen.
    """
    depth = Gauge("workqueue_depth", "Keys waiting in the controller's work queue.", ("name",))
    adds = Counter("workqueue_adds_total", "Keys added to the controller's work queue.", ("name",))
    retries = Counter("workqueue_retries_total", "Rate-limited re-queues (failed syncs).", ("name",))
    work = Histogram("workqueue_work_duration_seconds", "Time one key is processed (one sync).", ("name",))
    for name, owner in sorted(controllers.items()):
        queue: Any = getattr(owner, "queue", None)
        if hasattr(queue, "statistics"):
            stats = queue.statistics()
            depth.set(stats.depth, name)
            adds.inc(name, amount=stats.adds)
            retries.inc(name, amount=stats.retries)
            work.attach((name,), queue.work_seconds)
        elif hasattr(queue, "qsize"):
            depth.set(queue.qsize(), name)
    return [depth, adds, retries, work]


def response(stats: StoreStatistics) -> web.Response:
    """The body of ``GET /metrics``: the registry plus the store's counts."""
    body = render([*REGISTRY.collect(), *store_metrics(stats)])
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
