"""``StoredObject.owners``: the owner uids a stored version names, kept through every kind of write."""

from __future__ import annotations

from typing import Any

from miniplane.store.memory import encode, from_raw, tombstone


def lease(*uids: Any, renew: str = "t1") -> dict[str, Any]:
    refs = [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": uid} for uid in uids]
    meta: dict[str, Any] = {"name": "n1", "namespace": "kube-node-lease"}
    if refs:
        meta["ownerReferences"] = refs
    return {"metadata": meta, "spec": {"renewTime": renew}}


def test_owners_are_the_uids_of_the_owner_references() -> None:
    assert encode("leases", "kube-node-lease", "n1", lease("u1", "u2"), None, 1).owners == ("u1", "u2")
    assert encode("leases", "kube-node-lease", "n1", lease(), None, 1).owners == ()
    assert encode("leases", "kube-node-lease", "n1", lease("", None, "u3"), None, 1).owners == ("u3",)


def test_an_update_shares_unchanged_owners_and_notes_changed_ones() -> None:
    first = encode("leases", "kube-node-lease", "n1", lease("u1"), None, 1)
    renewed = encode("leases", "kube-node-lease", "n1", lease("u1", renew="t2"), first, 2)
    assert renewed.owners is first.owners
    moved = encode("leases", "kube-node-lease", "n1", lease("u2"), renewed, 3)
    assert moved.owners == ("u2",)


def test_recovery_and_deletion_keep_the_owners() -> None:
    first = encode("leases", "kube-node-lease", "n1", lease("u1"), None, 1)
    assert from_raw("leases", "kube-node-lease", "n1", 1, first.raw, None).owners == ("u1",)
    assert tombstone(first, 2).owners == ("u1",)
