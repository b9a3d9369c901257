"""Revision data bytes, the hash, and revision bookkeeping (§3.2, §3.7, §3.8)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from miniplane.controllers.daemonset.gojson import go_json
from miniplane.controllers.daemonset.history import plan_history, revision_data, revision_hash
from tests.unit.controllers.daemonset.builders import DS_UID, make_ds, make_pod

MINIMAL = {
    "metadata": {"labels": {"app": "log"}, "creationTimestamp": None},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "imagePullPolicy": "Always",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    },
}
MINIMAL_DATA = (
    b'{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"log"}},"spec":{"containers":'
    b'[{"image":"busybox","imagePullPolicy":"Always","name":"c","resources":{},"terminationMessagePath":'
    b'"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":'
    b'"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}'
)


MEMORY_FIELD = {"resource": "limits.memory"}
EMPTY_HEADER = {"name": "h", "value": ""}


def test_minimal_template_bytes_equal_the_documented_string() -> None:
    assert revision_data(MINIMAL) == MINIMAL_DATA


@pytest.mark.parametrize(
    ("change", "present", "absent"),
    [
        (lambda t: t["spec"].update(hostNetwork=False), [], ['"hostNetwork"']),
        (lambda t: t["spec"].update(terminationGracePeriodSeconds=0), ['"terminationGracePeriodSeconds":0'], []),
        (lambda t: t["spec"]["containers"][0].update(args=[]), [], ['"args"']),
        (lambda t: t["spec"]["containers"][0].update(args=["a<b>&c"]), [r'"args":["a\u003cb\u003e\u0026c"]'], []),
        (lambda t: t["spec"].update(bogus=1), [], ['"bogus"']),
        (lambda t: t["spec"]["containers"][0].pop("resources"), ['"resources":{}'], []),
        (
            lambda t: t["spec"]["containers"][0].update(resources={"limits": {"memory": "1024Mi", "cpu": "0.5"}}),
            ['"resources":{"limits":{"cpu":"500m","memory":"1Gi"}}'],
            [],
        ),
        (
            lambda t: t["spec"]["containers"][0].update(securityContext={"privileged": False, "capabilities": {}}),
            ['"securityContext":{"capabilities":{},"privileged":false}'],
            [],
        ),
        (
            lambda t: t["spec"]["containers"][0].update(
                env=[{"name": "X", "value": ""}, {"name": "M", "valueFrom": {"resourceFieldRef": MEMORY_FIELD}}]
            ),
            [
                '"env":[{"name":"X"},{"name":"M","valueFrom":{"resourceFieldRef":{"divisor":"0","resource":"limits.memory"}}}]'
            ],
            [],
        ),
        (
            lambda t: t["spec"]["containers"][0].update(
                readinessProbe={"httpGet": {"port": 80, "httpHeaders": [EMPTY_HEADER]}, "periodSeconds": 0}
            ),
            ['"readinessProbe":{"httpGet":{"httpHeaders":[{"name":"h","value":""}],"port":80}}'],
            [],
        ),
        (lambda t: t["metadata"].update(annotations={}), [], ['"annotations"']),
        (
            lambda t: t["spec"].update(tolerations=[{"operator": "Exists", "tolerationSeconds": 0}]),
            ['"tolerations":[{"operator":"Exists","tolerationSeconds":0}]'],
            [],
        ),
    ],
    ids=[
        "false omitempty bool dropped",
        "zero pointer int kept",
        "empty list dropped",
        "Go HTML escaping",
        "unknown field dropped",
        "value struct resources always written",
        "quantities canonical",
        "pointer bool false and empty pointer struct kept",
        "empty omitempty string dropped, zero divisor written",
        "required empty string kept, zero int dropped",
        "empty map dropped",
        "zero tolerationSeconds kept",
    ],
)
def test_go_round_trip_rules(change: Any, present: list[str], absent: list[str]) -> None:
    template = copy.deepcopy(MINIMAL)
    change(template)
    text = revision_data(template).decode()
    for fragment in present:
        assert fragment in text
    for fragment in absent:
        assert fragment not in text


def test_hash_is_deterministic_over_the_safe_alphabet() -> None:
    first = revision_hash(MINIMAL_DATA, None)
    assert first == revision_hash(MINIMAL_DATA, None)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 8 <= len(first) <= 10
    assert revision_hash(MINIMAL_DATA, 0) != first
    assert revision_hash(MINIMAL_DATA, 1) != revision_hash(MINIMAL_DATA, 0)


def ds_with(image: str, **kwargs: Any) -> dict[str, Any]:
    ds = make_ds(image=image, **kwargs)
    ds["metadata"]["annotations"]["kubernetes.io/change-cause"] = f"image {image}"
    return ds


def revision_for(ds: dict[str, Any], number: int, *, hash_: str | None = None) -> dict[str, Any]:
    plan = plan_history(ds, [], [])
    assert plan.create is not None
    rev = copy.deepcopy(plan.create)
    rev["revision"] = number
    if hash_ is not None:
        rev["metadata"]["name"] = f"agent-{hash_}"
        rev["metadata"]["labels"]["controller-revision-hash"] = hash_
    return rev


def test_new_daemonset_creates_revision_one() -> None:
    ds = ds_with("v1")
    plan = plan_history(ds, [], [])
    assert plan.create is not None and not plan.collision
    meta = plan.create["metadata"]
    assert plan.current_name == meta["name"] == f"agent-{plan.current_hash}"
    assert meta["labels"] == {"app": "agent", "controller-revision-hash": plan.current_hash}
    assert meta["annotations"] == ds["metadata"]["annotations"]
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "name": "agent",
            "uid": DS_UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert plan.create["revision"] == 1
    assert go_json(plan.create["data"]) == revision_data(ds["spec"]["template"])


def test_unchanged_template_reuses_the_revision() -> None:
    ds = ds_with("v1")
    rev = revision_for(ds, 1)
    plan = plan_history(ds, [rev], [])
    assert plan.create is None and plan.renumber is None
    assert plan.current_hash == rev["metadata"]["labels"]["controller-revision-hash"]


def test_template_change_creates_the_next_revision() -> None:
    rev1 = revision_for(ds_with("v1"), 1)
    plan = plan_history(ds_with("v2", generation=2), [rev1], [])
    assert plan.create is not None and plan.create["revision"] == 2
    assert plan.create["metadata"]["annotations"]["kubernetes.io/change-cause"] == "image v2"


def test_rollback_renumbers_the_old_revision_without_creating_one() -> None:
    rev1, rev2 = revision_for(ds_with("v1"), 1), revision_for(ds_with("v2"), 2)
    plan = plan_history(ds_with("v1", generation=3), [rev1, rev2], [])
    assert plan.create is None
    assert plan.renumber == (rev1["metadata"]["name"], 3)
    assert plan.current_hash == rev1["metadata"]["labels"]["controller-revision-hash"]


def test_duplicates_keep_the_highest_and_relabel_pods() -> None:
    ds = ds_with("v1")
    keep, dup = revision_for(ds, 2, hash_="keephash"), revision_for(ds, 1, hash_="duphash")
    old = revision_for(ds_with("v0"), 3)
    pods = [make_pod("a", "n1", hash_="duphash"), make_pod("b", "n2", hash_="keephash")]
    plan = plan_history(ds, [dup, keep, old], pods)
    assert plan.current_hash == "keephash"
    assert plan.delete_duplicates == ("agent-duphash",)
    assert plan.relabel_pods == ("a",)
    assert plan.renumber == ("agent-keephash", 4)


def test_claiming_revisions_and_missing_hash_label() -> None:
    ds = ds_with("v1")
    orphan = revision_for(ds_with("v0"), 1)
    orphan["metadata"]["ownerReferences"] = []
    unlabelled = revision_for(ds_with("v2"), 2)
    del unlabelled["metadata"]["labels"]["controller-revision-hash"]
    stray = revision_for(ds_with("v3"), 3)
    stray["metadata"]["labels"] = {"app": "other", "controller-revision-hash": "x"}
    foreign = revision_for(ds_with("v4"), 4)
    foreign["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    plan = plan_history(ds, [orphan, unlabelled, stray, foreign], [])
    assert plan.adopt == (orphan["metadata"]["name"],)
    assert plan.release == (stray["metadata"]["name"],)
    assert plan.label_revisions == (unlabelled["metadata"]["name"],)
    assert plan.create is not None and plan.create["revision"] == 3  # max(adopted 1, owned 2) + 1


@pytest.mark.parametrize(
    ("limit", "live", "pruned"),
    [
        (10, [], []),
        (2, [], ["r1", "r2"]),
        (0, [], ["r1", "r2", "r3", "r4"]),
        (2, ["h1"], ["r2", "r3"]),
        (0, ["h2", "h4"], ["r1", "r3"]),
    ],
    ids=[
        "under the limit",
        "lowest revisions first, current not counted",
        "limit 0 keeps only the current one",
        "revisions used by live pods are spared",
        "spared revisions do not count against the limit",
    ],
)
def test_history_pruning(limit: int, live: list[str], pruned: list[str]) -> None:
    ds = ds_with("v9", history_limit=limit)
    olds = [revision_for(ds_with(f"v{i}"), i, hash_=f"h{i}") for i in range(1, 5)]
    for i, rev in enumerate(olds, 1):
        rev["metadata"]["name"] = f"r{i}"
    current = revision_for(ds, 5)
    pods = [make_pod(f"p{i}", f"n{i}", hash_=h) for i, h in enumerate(live)]
    plan = plan_history(ds, [*olds, current], pods)
    assert list(plan.prune) == pruned


def test_deleted_terminal_pods_still_spare_their_revision() -> None:
    ds = ds_with("v9", history_limit=0)
    old = revision_for(ds_with("v1"), 1, hash_="h1")
    pod = make_pod("p", "n1", hash_="h1", phase="Failed", deleting=True)
    assert plan_history(ds, [old, revision_for(ds, 2)], [pod]).prune == ()


def test_name_collision_is_reported() -> None:
    ds = ds_with("v2")
    wanted = plan_history(ds, [], [])
    taken = revision_for(ds_with("v1"), 1)
    taken["metadata"]["name"] = wanted.current_name
    taken["metadata"]["ownerReferences"] = []
    taken["metadata"]["labels"] = {"other": "x"}
    plan = plan_history(ds, [taken], [])
    assert plan.collision and plan.current_hash == "" and plan.create is None
    ds["status"]["collisionCount"] = 1
    assert plan_history(ds, [taken], []).current_hash != wanted.current_hash


def test_existing_revision_with_our_name_and_data_is_reused() -> None:
    ds = ds_with("v1")
    rev = revision_for(ds, 1)
    rev["metadata"]["ownerReferences"] = [{"uid": "other", "controller": True}]
    plan = plan_history(ds, [rev], [])
    assert plan.create is None and not plan.collision
    assert plan.current_name == rev["metadata"]["name"]


def test_revision_data_may_be_raw_bytes_or_decoded() -> None:
    ds = ds_with("v1")
    rev = revision_for(ds, 1)
    raw = dict(rev, data=revision_data(ds["spec"]["template"]).decode())
    assert plan_history(ds, [raw], []).create is None
