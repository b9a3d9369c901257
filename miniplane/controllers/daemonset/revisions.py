"""Writing ControllerRevisions so that the API serves their ``data`` byte for byte as Kubernetes does.

The store encodes objects with orjson, which keeps the key order of the (sorted) ``data`` but does
not escape ``<``, ``>``, ``&``, U+2028 and U+2029 as Go does. Every write of a revision by the
controller therefore embeds ``go_json(data)`` as an ``orjson.Fragment``: creations (checked by a
dry run through the ObjectService first) and the controller's own updates (adoption, release, the
hash label, renumbering) go to the store with those exact bytes. Writes by clients through the API
re-encode ``data`` with orjson; the controller's next write of that revision restores the bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from miniplane.controllers.daemonset.gojson import go_json
from miniplane.controllers.daemonset.podutil import HASH_LABEL
from miniplane.objects.errors import APIError
from miniplane.objects.service import ObjectService, WriteOptions
from miniplane.resources.registry import BY_KEY
from miniplane.store import errors as store_errors

REVISIONS = BY_KEY["controllerrevisions.apps"]
Obj = dict[str, Any]
Change = Callable[[Obj], object]


def revision_bytes(revision: Obj) -> Obj:
    """The revision with ``data`` embedded as Go's exact JSON bytes (compact, sorted, escaped)."""
    return {**revision, "data": orjson.Fragment(go_json(revision.get("data")))}


class RevisionWriter:
    """Creates, changes and deletes one namespace's ControllerRevisions for the controller."""

    def __init__(self, service: ObjectService) -> None:
        self.service = service
        self.store = service.store

    async def create(self, ns: str, body: Obj) -> None:
        """Create through the service's checks (a dry run), then store the exact bytes."""
        prepared = await self.service.create(REVISIONS, ns, body, WriteOptions(dry_run=True))
        try:
            await self.store.create(REVISIONS.key, revision_bytes(orjson.loads(prepared.raw)))
        except store_errors.AlreadyExists:
            raise APIError(409, "AlreadyExists", f"controllerrevision {body['metadata']['name']} exists") from None

    async def update(self, ns: str, name: str, change: Change) -> None:
        """Apply ``change`` to the stored revision (if it still exists) and write it back."""
        try:
            stored = await self.store.get(REVISIONS.key, ns, name)
        except store_errors.NotFound:
            return
        revision = stored.decode()
        change(revision)
        await self.store.update(REVISIONS.key, revision_bytes(revision), expect_rv=stored.rv)

    async def delete(self, ns: str, name: str) -> None:
        try:
            await self.service.delete(REVISIONS, ns, name)
        except APIError as err:
            if err.code != 404:
                raise


def labelled(value: str) -> Change:
    """Give the revision the hash label ``value`` (its own name, as upstream labels it)."""

    def change(revision: Obj) -> None:
        revision["metadata"].setdefault("labels", {})[HASH_LABEL] = value

    return change


def renumbered(number: int) -> Change:
    def change(revision: Obj) -> None:
        revision["revision"] = number

    return change


def owned_by(ref: Obj) -> Change:
    """Make ``ref`` the revision's controller reference (replacing one with the same uid)."""

    def change(revision: Obj) -> None:
        refs = [r for r in revision["metadata"].get("ownerReferences") or [] if r.get("uid") != ref["uid"]]
        revision["metadata"]["ownerReferences"] = [*refs, ref]

    return change


def released_by(uid: str) -> Change:
    """Drop the references to owner ``uid``."""

    def change(revision: Obj) -> None:
        refs = [r for r in revision["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            revision["metadata"]["ownerReferences"] = refs
        else:
            revision["metadata"].pop("ownerReferences", None)

    return change
