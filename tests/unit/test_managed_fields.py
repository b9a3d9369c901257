"""Update entries of ``metadata.managedFields``: which fields a manager wrote, and when it last changed something."""

from __future__ import annotations

import copy
from typing import Any

from miniplane.objects import managed_fields

LEASE_V1 = "coordination.k8s.io/v1"
MANAGER = "miniplane-simulate"
STALE = "2020-01-01T00:00:00Z"


def lease(renew_time: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": LEASE_V1,
        "kind": "Lease",
        "metadata": {"name": "n1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "n1", "renewTime": renew_time, **spec},
    }


def stored(obj: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as stored, with one Update entry of ``MANAGER`` written long ago."""
    old = copy.deepcopy(obj)
    entry = {"manager": MANAGER, "operation": "Update", "apiVersion": LEASE_V1, "time": STALE}
    old["metadata"]["managedFields"] = [{**entry, "fieldsType": "FieldsV1", "fieldsV1": fields}]
    return old


def entry_of(obj: dict[str, Any]) -> dict[str, Any]:
    (entry,) = obj["metadata"]["managedFields"]
    assert isinstance(entry, dict)
    return entry


SPEC_FIELDS = {"f:spec": {"f:holderIdentity": {}, "f:renewTime": {}}}


def test_a_renewal_keeps_the_field_set_and_stamps_the_time() -> None:
    old = stored(lease("2026-01-01T00:00:00.000000Z"), copy.deepcopy(SPEC_FIELDS))
    new = lease("2026-01-01T00:00:10.000000Z")
    managed_fields.record(new, MANAGER, "Update", LEASE_V1, old)
    entry = entry_of(new)
    assert entry["fieldsV1"] == SPEC_FIELDS
    assert entry["time"] != STALE  # Kubernetes stamps the entry whenever the write changed the object


def test_a_write_of_a_new_field_adds_it_to_the_set() -> None:
    old = stored(lease("2026-01-01T00:00:00.000000Z"), copy.deepcopy(SPEC_FIELDS))
    new = lease("2026-01-01T00:00:00.000000Z", leaseDurationSeconds=40)
    new["metadata"]["labels"] = {"a": "b"}
    managed_fields.record(new, MANAGER, "Update", LEASE_V1, old)
    assert entry_of(new)["fieldsV1"] == {
        "f:spec": {"f:holderIdentity": {}, "f:renewTime": {}, "f:leaseDurationSeconds": {}},
        "f:metadata": {"f:labels": {"f:a": {}}},
    }


def test_a_manager_without_an_entry_gets_the_fields_it_changed() -> None:
    old = lease("2026-01-01T00:00:00.000000Z")
    new = lease("2026-01-01T00:00:10.000000Z")
    managed_fields.record(new, "other", "Update", LEASE_V1, old)
    entry = entry_of(new)
    assert (entry["manager"], entry["fieldsV1"]) == ("other", {"f:spec": {"f:renewTime": {}}})


def test_covers_compares_whole_paths() -> None:
    fields = {"f:spec": {"f:a": {}, "f:b": {"f:c": {}}}}
    assert managed_fields._covers(fields, {"f:spec": {"f:b": {"f:c": {}}}})
    assert managed_fields._covers(fields, {"f:spec": {}})
    assert not managed_fields._covers(fields, {"f:spec": {"f:b": {"f:d": {}}}})
    assert not managed_fields._covers(fields, {"f:status": {}})
