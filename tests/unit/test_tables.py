"""Server-side Table printing: ages, per-kind columns and cells, and the Table envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from miniplane.resources.tables import column_definitions, human_duration, table, table_rows
from miniplane.timeutil import rfc3339

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = 60, 3600, 86400


def ago(seconds: float) -> str:
    return rfc3339(NOW - timedelta(seconds=seconds))


def cells(kind: str, obj: dict[str, Any]) -> list[Any]:
    return table_rows(kind, [obj], NOW, "None")[0]["cells"]


def cell(kind: str, obj: dict[str, Any], column: str) -> Any:
    names = [c["name"] for c in column_definitions(kind)]
    return cells(kind, obj)[names.index(column)]


# --- human_duration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(-2.0, "<invalid>", id="2s-in-future-invalid"),
        pytest.param(-1.999, "0s", id="just-under-2s-in-future"),
        pytest.param(-1.0, "0s", id="1s-in-future"),
        pytest.param(0, "0s", id="now"),
        pytest.param(0.999, "0s", id="under-a-second"),
        pytest.param(1, "1s", id="1s"),
        pytest.param(45, "45s", id="45s"),
        pytest.param(119.999, "119s", id="just-under-2m"),
        pytest.param(120, "2m", id="2m"),
        pytest.param(185, "3m5s", id="3m5s"),
        pytest.param(599, "9m59s", id="just-under-10m"),
        pytest.param(600, "10m", id="10m-drops-seconds"),
        pytest.param(47 * MINUTE + 30, "47m", id="47m"),
        pytest.param(3 * HOUR - 1, "179m", id="just-under-3h"),
        pytest.param(3 * HOUR, "3h", id="3h"),
        pytest.param(5 * HOUR + 3 * MINUTE, "5h3m", id="5h3m"),
        pytest.param(8 * HOUR - 1, "7h59m", id="just-under-8h"),
        pytest.param(8 * HOUR, "8h", id="8h"),
        pytest.param(23 * HOUR + 59 * MINUTE, "23h", id="23h"),
        pytest.param(48 * HOUR - 1, "47h", id="just-under-48h"),
        pytest.param(48 * HOUR, "2d", id="2d"),
        pytest.param(3 * DAY + 4 * HOUR, "3d4h", id="3d4h"),
        pytest.param(8 * DAY - 1, "7d23h", id="just-under-8d"),
        pytest.param(8 * DAY, "8d", id="8d"),
        pytest.param(200 * DAY, "200d", id="200d"),
        pytest.param(730 * DAY - 1, "729d", id="just-under-2y"),
        pytest.param(730 * DAY, "2y", id="2y"),
        pytest.param(760 * DAY, "2y30d", id="2y30d"),
        pytest.param(2920 * DAY - 1, "7y364d", id="just-under-8y"),
        pytest.param(2920 * DAY, "8y", id="8y"),
        pytest.param(3650 * DAY, "10y", id="10y"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


# --- headers ----------------------------------------------------------------------------------------

DS_HEADERS = [
    ("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0),
    ("Node Selector", 0), ("Age", 0), ("Containers", 1), ("Images", 1), ("Selector", 1),
]  # fmt: skip
POD_HEADERS = [
    ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
    ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1),
]  # fmt: skip
NODE_HEADERS = [
    ("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0), ("Internal-IP", 1),
    ("External-IP", 1), ("OS-Image", 1), ("Kernel-Version", 1), ("Container-Runtime", 1),
]  # fmt: skip
EVENT_HEADERS = [
    ("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1),
    ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param("DaemonSet", DS_HEADERS, id="daemonset"),
        pytest.param("Pod", POD_HEADERS, id="pod"),
        pytest.param("Node", NODE_HEADERS, id="node"),
        pytest.param("Event", EVENT_HEADERS, id="event"),
        pytest.param(
            "ControllerRevision", [("Name", 0), ("Controller", 0), ("Revision", 0), ("Age", 0)], id="revision"
        ),
        pytest.param("Namespace", [("Name", 0), ("Status", 0), ("Age", 0)], id="namespace"),
        pytest.param("Lease", [("Name", 0), ("Holder", 0), ("Age", 0)], id="lease"),
        pytest.param("Secret", [("Name", 0), ("Created At", 0)], id="default"),
    ],
)
def test_headers(kind: str, expected: list[tuple[str, int]]) -> None:
    columns = column_definitions(kind)
    assert [(c["name"], c["priority"]) for c in columns] == expected
    assert all(set(c) == {"name", "type", "format", "description", "priority"} and c["description"] for c in columns)
    assert [c["name"] for c in columns if c["format"] == "name"] == ["Name"]


def test_column_types() -> None:
    assert {c["name"] for c in column_definitions("DaemonSet") if c["type"] == "integer"} == {
        "Desired", "Current", "Ready", "Up-to-date", "Available",
    }  # fmt: skip
    assert column_definitions("Secret")[1]["type"] == "date"
    assert column_definitions("Pod")[3]["type"] == "string"  # Restarts: "3 (2m ago)"


def test_column_definitions_are_copies() -> None:
    column_definitions("Pod")[0]["name"] = "changed"
    assert column_definitions("Pod")[0]["name"] == "Name"


# --- pods -------------------------------------------------------------------------------------------


def running(name: str = "agent", *, ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(4 * MINUTE)}},
        **extra,
    }


def waiting(reason: str, name: str = "agent", *, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
        **extra,
    }


def terminated(name: str = "agent", **state: Any) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def crashed(seconds_ago: float) -> dict[str, Any]:
    return {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(seconds_ago)}}


def pod(
    *statuses: dict[str, Any],
    phase: str = "Running",
    containers: int = 1,
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    **status: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": "collector-x7k2p",
        "namespace": "default",
        "creationTimestamp": ago(5 * MINUTE),
    }
    if deleting:
        meta["deletionTimestamp"] = ago(-30)
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)],
        "nodeName": "node-1",
    }
    if init is not None:
        spec["initContainers"] = init
    pod_status: dict[str, Any] = {"phase": phase, "containerStatuses": list(statuses), **status}
    if init_statuses is not None:
        pod_status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        pod_status["conditions"] = conditions
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": pod_status}


def ready_condition(status: str) -> list[dict[str, Any]]:
    return [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": status}]


INIT_ONE = [{"name": "setup", "image": "busybox"}]
INIT_TWO = [{"name": "setup", "image": "busybox"}, {"name": "migrate", "image": "busybox"}]
SIDECAR = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        pytest.param(pod(running()), "1/1", "Running", "0", id="daemon-pod-running"),
        pytest.param(pod(running(ready=False)), "0/1", "Running", "0", id="running-not-ready-stays-running"),
        pytest.param(pod(phase="Pending"), "0/1", "Pending", "0", id="pending-unscheduled"),
        pytest.param(
            pod(waiting("ContainerCreating"), phase="Pending"), "0/1", "ContainerCreating", "0", id="creating"
        ),
        pytest.param(pod(waiting("ErrImagePull"), phase="Pending"), "0/1", "ErrImagePull", "0", id="err-image"),
        pytest.param(
            pod(waiting("CrashLoopBackOff", restarts=3, lastState=crashed(2 * MINUTE))),
            "0/1",
            "CrashLoopBackOff",
            "3 (2m ago)",
            id="crash-loop",
        ),
        pytest.param(pod(running(restarts=1, lastState=crashed(45))), "1/1", "Running", "1 (45s ago)", id="restarted"),
        pytest.param(pod(waiting("CrashLoopBackOff", restarts=2)), "0/1", "CrashLoopBackOff", "2", id="no-finish"),
        pytest.param(
            pod(
                running("a", restarts=2, lastState=crashed(10 * MINUTE)),
                running("b", restarts=1, lastState=crashed(3 * MINUTE)),
                containers=2,
            ),
            "2/2",
            "Running",
            "3 (3m ago)",
            id="restarts-summed-latest-finish",
        ),
        pytest.param(pod(running(), deleting=True), "1/1", "Terminating", "0", id="terminating"),
        pytest.param(pod(running(), deleting=True, reason="NodeLost"), "1/1", "Unknown", "0", id="node-lost"),
        pytest.param(
            pod(terminated(exitCode=0, reason="Completed"), phase="Succeeded", deleting=True),
            "0/1",
            "Completed",
            "0",
            id="terminal-pod-not-terminating",
        ),
        pytest.param(pod(terminated(exitCode=1, reason="Error"), phase="Failed"), "0/1", "Error", "0", id="error"),
        pytest.param(pod(terminated(exitCode=2), phase="Failed"), "0/1", "ExitCode:2", "0", id="exit-code"),
        pytest.param(pod(terminated(exitCode=137, signal=9), phase="Failed"), "0/1", "Signal:9", "0", id="signal"),
        pytest.param(pod(phase="Failed", reason="Evicted"), "0/1", "Evicted", "0", id="status-reason"),
        pytest.param(
            pod(
                conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
                phase="Pending",
            ),
            "0/1",
            "SchedulingGated",
            "0",
            id="scheduling-gated",
        ),
        pytest.param(
            pod(
                terminated("a", exitCode=0, reason="Completed"),
                running("b"),
                containers=2,
                conditions=ready_condition("False"),
            ),
            "1/2",
            "NotReady",
            "0",
            id="completed-plus-running-not-ready",
        ),
        pytest.param(
            pod(
                terminated("a", exitCode=0, reason="Completed"),
                running("b"),
                containers=2,
                conditions=ready_condition("True"),
            ),
            "1/2",
            "Running",
            "0",
            id="completed-plus-running-ready",
        ),
        pytest.param(
            pod(phase="Pending", init=INIT_ONE, init_statuses=[waiting("PodInitializing", "setup")]),
            "0/1",
            "Init:0/1",
            "0",
            id="init-0-of-1",
        ),
        pytest.param(
            pod(
                phase="Pending",
                init=INIT_TWO,
                init_statuses=[terminated("setup", exitCode=0, reason="Completed"), running("migrate")],
            ),
            "0/1",
            "Init:1/2",
            "0",
            id="init-1-of-2",
        ),
        pytest.param(
            pod(
                phase="Pending",
                init=INIT_ONE,
                init_statuses=[waiting("CrashLoopBackOff", "setup", restarts=4, lastState=crashed(30))],
            ),
            "0/1",
            "Init:CrashLoopBackOff",
            "4 (30s ago)",
            id="init-crash-loop",
        ),
        pytest.param(
            pod(
                phase="Pending",
                init=INIT_ONE,
                init_statuses=[terminated("setup", exitCode=1, reason="Error")],
            ),
            "0/1",
            "Init:Error",
            "0",
            id="init-error",
        ),
        pytest.param(
            pod(phase="Pending", init=INIT_ONE, init_statuses=[terminated("setup", exitCode=3)]),
            "0/1",
            "Init:ExitCode:3",
            "0",
            id="init-exit-code",
        ),
        pytest.param(
            pod(
                running(),
                init=SIDECAR,
                init_statuses=[running("proxy", started=True, restarts=1, lastState=crashed(5 * MINUTE))],
                conditions=ready_condition("True"),
            ),
            "2/2",
            "Running",
            "1 (5m ago)",
            id="sidecar-counts-as-container",
        ),
    ],
)
def test_pod_ready_status_restarts(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    assert cells("Pod", obj)[1:4] == [ready, status, restarts]


def test_pod_name_age_and_wide_defaults() -> None:
    assert cells("Pod", pod(running())) == [
        "collector-x7k2p", "1/1", "Running", "0", "5m", "<none>", "node-1", "<none>", "<none>",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "expected_ip"),
    [
        pytest.param({"podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}]}, "10.0.0.7", id="pod-ip"),
        pytest.param({"podIPs": [{"ip": "fd00::7"}, {"ip": "10.0.0.7"}]}, "fd00::7", id="first-of-pod-ips"),
    ],
)
def test_pod_ip(status: dict[str, Any], expected_ip: str) -> None:
    assert cell("Pod", pod(running(), **status), "IP") == expected_ip


def test_pod_nominated_node_and_readiness_gates() -> None:
    obj = pod(
        running(),
        nominatedNodeName="node-2",
        conditions=[
            {"type": "example.com/lb", "status": "True"},
            {"type": "example.com/dns", "status": "False"},
        ],
    )
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
    ]
    assert cells("Pod", obj)[7:] == ["node-2", "1/2"]


# --- nodes ------------------------------------------------------------------------------------------


def node(
    *, ready: str | None = "True", unschedulable: bool = False, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"unschedulable": True} if unschedulable else {}
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": "node-1", "labels": labels or {}, "creationTimestamp": ago(3 * DAY + 4 * HOUR)},
        "spec": spec,
        "status": {
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": "192.0.2.1"},
                {"type": "Hostname", "address": "node-1"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.37.1-miniplane",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-18-amd64",
                "containerRuntimeVersion": "miniplane://0.1.0",
            },
        },
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(node(), "Ready", id="ready"),
        pytest.param(node(ready="False"), "NotReady", id="not-ready"),
        pytest.param(node(ready="Unknown"), "NotReady", id="heartbeat-lost-is-not-ready"),
        pytest.param(node(ready=None), "Unknown", id="no-ready-condition"),
        pytest.param(node(unschedulable=True), "Ready,SchedulingDisabled", id="cordoned"),
        pytest.param(node(ready="False", unschedulable=True), "NotReady,SchedulingDisabled", id="cordoned-down"),
    ],
)
def test_node_status(obj: dict[str, Any], expected: str) -> None:
    assert cell("Node", obj, "Status") == expected


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param({"kubernetes.io/hostname": "node-1"}, "<none>", id="none"),
        pytest.param(
            {"node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "true"},
            "control-plane,master",
            id="sorted-role-labels",
        ),
        pytest.param({"kubernetes.io/role": "worker"}, "worker", id="legacy-role-label"),
        pytest.param({"kubernetes.io/role": "gpu", "node-role.kubernetes.io/gpu": ""}, "gpu", id="duplicate-role-once"),
        pytest.param({"node-role.kubernetes.io/": "", "kubernetes.io/role": ""}, "<none>", id="empty-roles-ignored"),
    ],
)
def test_node_roles(labels: dict[str, str], expected: str) -> None:
    assert cell("Node", node(labels=labels), "Roles") == expected


def test_node_cells() -> None:
    assert cells("Node", node()) == [
        "node-1", "Ready", "<none>", "3d4h", "v1.37.1-miniplane", "192.0.2.1", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "miniplane://0.1.0",
    ]  # fmt: skip


def test_node_wide_cells_without_info() -> None:
    bare = {
        "metadata": {"name": "n"},
        "status": {"addresses": [{"type": "ExternalIP", "address": "203.0.113.9"}]},
    }
    assert cells("Node", bare) == [
        "n", "Unknown", "<none>", "<unknown>", "", "<none>", "203.0.113.9",
        "<unknown>", "<unknown>", "<unknown>",
    ]  # fmt: skip


# --- daemonsets -------------------------------------------------------------------------------------


def daemonset(*, node_selector: dict[str, str] | None = None, selector: dict[str, Any] | None = None) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "containers": [
            {"name": "log-collector", "image": "fluent/fluent-bit:3.1"},
            {"name": "rotate", "image": "busybox:1.36"},
        ]
    }
    if node_selector is not None:
        pod_spec["nodeSelector"] = node_selector
    return {
        "kind": "DaemonSet",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": "simple-log-collector",
            "namespace": "default",
            "creationTimestamp": ago(47 * MINUTE),
        },
        "spec": {
            "selector": selector if selector is not None else {"matchLabels": {"app": "log-collector"}},
            "template": {"metadata": {"labels": {"app": "log-collector"}}, "spec": pod_spec},
        },
        "status": {
            "currentNumberScheduled": 3,
            "desiredNumberScheduled": 3,
            "numberMisscheduled": 0,
            "numberReady": 2,
            "numberAvailable": 2,
            "numberUnavailable": 1,
            "updatedNumberScheduled": 3,
        },
    }


def test_daemonset_cells() -> None:
    assert cells("DaemonSet", daemonset()) == [
        "simple-log-collector", 3, 3, 2, 3, 2, "<none>", "47m",
        "log-collector,rotate", "fluent/fluent-bit:3.1,busybox:1.36", "app=log-collector",
    ]  # fmt: skip


def test_daemonset_brand_new_status_counts_zero() -> None:
    fresh = daemonset()
    fresh["status"] = {"currentNumberScheduled": 0, "desiredNumberScheduled": 0}
    assert cells("DaemonSet", fresh)[1:6] == [0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("node_selector", "expected"),
    [
        pytest.param(None, "<none>", id="absent"),
        pytest.param({}, "<none>", id="empty"),
        pytest.param({"gpu": "true", "disk": "ssd"}, "disk=ssd,gpu=true", id="sorted-by-key"),
    ],
)
def test_daemonset_node_selector(node_selector: dict[str, str] | None, expected: str) -> None:
    assert cell("DaemonSet", daemonset(node_selector=node_selector), "Node Selector") == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param({}, "<none>", id="empty"),
        pytest.param({"matchLabels": {"tier": "node", "app": "x"}}, "app=x,tier=node", id="labels-sorted"),
        pytest.param(
            {
                "matchLabels": {"app": "x"},
                "matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["b", "a"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "gpu", "operator": "Exists"},
                    {"key": "arch", "operator": "NotIn", "values": ["arm"]},
                ],
            },
            "app=x,arch notin (arm),!canary,gpu,zone in (a,b)",
            id="expressions",
        ),
        pytest.param({"matchExpressions": [{"key": "a", "operator": "Near", "values": []}]}, "<error>", id="bad-op"),
    ],
)
def test_daemonset_selector(selector: dict[str, Any], expected: str) -> None:
    assert cell("DaemonSet", daemonset(selector=selector), "Selector") == expected


# --- events -----------------------------------------------------------------------------------------


def event(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": "collector-x7k2p.187a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "collector-x7k2p", "uid": "u1"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container agent\n",
        "type": "Warning",
        "source": {"component": "kubelet", "host": "node-1"},
        **fields,
    }


def test_event_repeated_three_times() -> None:
    repeated = event(firstTimestamp=ago(10 * MINUTE), lastTimestamp=ago(5 * MINUTE), count=3)
    assert cells("Event", repeated) == [
        "5m", "Warning", "BackOff", "pod/collector-x7k2p", "", "kubelet, node-1",
        "Back-off restarting failed container agent", "10m", 3, "collector-x7k2p.187a",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "last_seen", "first_seen", "count"),
    [
        pytest.param({"firstTimestamp": ago(90), "count": 1}, "90s", "90s", 1, id="no-last-uses-first"),
        pytest.param({"eventTime": "2026-11-24T11:59:15.123456Z"}, "44s", "44s", 1, id="micro-time-truncated"),
        pytest.param(
            {"eventTime": ago(20 * MINUTE), "series": {"count": 7, "lastObservedTime": ago(MINUTE)}},
            "60s",
            "20m",
            7,
            id="series",
        ),
        pytest.param({}, "<unknown>", "<unknown>", 1, id="no-times"),
    ],
)
def test_event_times_and_count(fields: dict[str, Any], last_seen: str, first_seen: str, count: int) -> None:
    row = cells("Event", event(**fields))
    assert (row[0], row[7], row[8]) == (last_seen, first_seen, count)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"source": {"component": "kubelet"}}, "kubelet", id="component-only"),
        pytest.param(
            {"source": {}, "reportingController": "daemonset-controller", "reportingInstance": "miniplane"},
            "daemonset-controller, miniplane",
            id="reporting-fallback",
        ),
    ],
)
def test_event_source(fields: dict[str, Any], expected: str) -> None:
    assert cell("Event", event(**fields), "Source") == expected


def test_event_object_without_name_is_kind() -> None:
    assert cell("Event", event(involvedObject={"kind": "Node"}), "Object") == "node"


# --- small kinds ------------------------------------------------------------------------------------


def test_controller_revision_cells() -> None:
    revision = {
        "kind": "ControllerRevision",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": "simple-log-collector-6d4f8b7c9",
            "creationTimestamp": ago(2 * HOUR),
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "other", "uid": "u0"},
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "x", "uid": "u1", "controller": True},
            ],
        },
        "revision": 2,
        "data": {},
    }
    assert cells("ControllerRevision", revision) == [
        "simple-log-collector-6d4f8b7c9", "daemonset.apps/x", 2, "120m",
    ]  # fmt: skip


def test_controller_revision_orphan() -> None:
    assert cells("ControllerRevision", {"metadata": {"name": "r"}, "revision": 1})[1:3] == ["<none>", 1]


def test_namespace_lease_and_default_cells() -> None:
    created = {"name": "kube-node-lease", "creationTimestamp": ago(2 * DAY)}
    assert cells("Namespace", {"metadata": created, "status": {"phase": "Active"}}) == [
        "kube-node-lease", "Active", "2d",
    ]  # fmt: skip
    lease = {
        "metadata": {"name": "node-1", "creationTimestamp": ago(30)},
        "spec": {"holderIdentity": "node-1"},
    }
    assert cells("Lease", lease) == ["node-1", "node-1", "30s"]
    assert cells("Lease", {"metadata": {"name": "free"}, "spec": {}}) == ["free", "", "<unknown>"]
    secret = {"metadata": {"name": "s", "creationTimestamp": "2026-11-24T11:00:00.5+01:00"}}
    assert cells("Secret", secret) == ["s", "2026-11-24T10:00:00Z"]


# --- every cell's type matches its column -------------------------------------------------------------

REALISTIC = [
    pytest.param("DaemonSet", daemonset(node_selector={"disk": "ssd"}), id="daemonset"),
    pytest.param("Pod", pod(waiting("CrashLoopBackOff", restarts=3, lastState=crashed(120))), id="pod"),
    pytest.param("Node", node(labels={"node-role.kubernetes.io/worker": ""}), id="node"),
    pytest.param("Event", event(firstTimestamp=ago(600), lastTimestamp=ago(300), count=3), id="event"),
    pytest.param("ControllerRevision", {"metadata": {"name": "r"}, "revision": 3}, id="revision"),
    pytest.param("Namespace", {"metadata": {"name": "default"}, "status": {"phase": "Active"}}, id="namespace"),
    pytest.param("Lease", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "h"}}, id="lease"),
    pytest.param("Widget", {"metadata": {"name": "w", "creationTimestamp": ago(5)}}, id="default"),
]
PYTHON_TYPE = {"integer": int, "string": str, "date": str}


@pytest.mark.parametrize(("kind", "obj"), REALISTIC)
def test_cell_types_match_columns(kind: str, obj: dict[str, Any]) -> None:
    columns = column_definitions(kind)
    row = cells(kind, obj)
    assert len(row) == len(columns)
    for col, value in zip(columns, row, strict=True):
        assert type(value) is PYTHON_TYPE[col["type"]], (col["name"], value)


# --- the Table envelope -----------------------------------------------------------------------------


def test_table_with_partial_object_metadata() -> None:
    obj = daemonset()
    obj["metadata"] |= {
        "labels": {"app": "x"},
        "managedFields": [{"manager": "kubectl"}],
        "resourceVersion": "7",
    }
    result = table("DaemonSet", [obj], NOW, resource_version="431")
    assert result["kind"] == "Table"
    assert result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "431"}
    assert result["columnDefinitions"] == column_definitions("DaemonSet")
    [row] = result["rows"]
    assert row["cells"][0] == "simple-log-collector"
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"},
    }
    assert "managedFields" in obj["metadata"]  # the stored object is left alone


def test_table_include_object_variants() -> None:
    obj = pod(running())
    [full] = table_rows("Pod", [obj], NOW, "Object")
    assert full["object"] == obj
    [bare] = table_rows("Pod", [obj], NOW, "None")
    assert "object" not in bare
    assert table_rows("Pod", [obj], NOW)[0]["object"]["kind"] == "PartialObjectMetadata"


def test_table_metadata_carries_continue_and_omits_empty() -> None:
    assert table("Pod", [], NOW)["metadata"] == {}
    assert table("Pod", [], NOW, resource_version="9", continue_token="1")["metadata"] == {
        "resourceVersion": "9",
        "continue": "1",
    }
    assert table("Pod", [], NOW)["rows"] == []


def test_table_rejects_unknown_include_object() -> None:
    with pytest.raises(ValueError, match="includeObject"):
        table_rows("Pod", [pod()], NOW, "Everything")
