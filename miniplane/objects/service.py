"""Kubernetes object semantics over a plain store: what every create, update, patch and delete does.

The HTTP handlers and the in-process controllers both write through ``ObjectService``, so a pod
created by the DaemonSet controller gets the same uid, timestamps, defaults and validation as one
posted by kubectl. Steps of a write: field validation (Strict/Warn/Ignore), server-owned metadata,
the kind's strategy (generation, status), defaulting, validation, then the store (unless dry run).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from miniplane.objects import errors, managed_fields, strategy
from miniplane.objects.bodies import check_depth, load_yaml_or_json
from miniplane.objects.errors import APIError
from miniplane.patch import PatchError, UnsupportedPatchType, apply_patch
from miniplane.patch.apply import server_side_apply
from miniplane.resources.defaults import apply_defaults
from miniplane.resources.registry import BY_KEY, ResourceInfo
from miniplane.resources.validation import validate
from miniplane.schema import strict
from miniplane.schema.definitions import FieldSchema, kind_schema
from miniplane.store import errors as store_errors
from miniplane.store.base import Query, Store, StoredObject
from miniplane.timeutil import rfc3339, utcnow

NAMESPACES = BY_KEY["namespaces"]
APPLY_PATCH = "application/apply-patch+yaml"
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Query parameters of a write."""

    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore (Kubernetes' default for API requests is Warn)
    field_manager: str = ""
    force: bool = False


@dataclass(slots=True)
class WriteResult:
    """The object as stored (or as it would be, under dry run) and what to tell the client."""

    raw: bytes
    created: bool = False
    warnings: list[str] = field(default_factory=list)


def _stored_result(obj: StoredObject | dict[str, Any], created: bool, warnings: list[str]) -> WriteResult:
    raw = obj.raw if isinstance(obj, StoredObject) else orjson.dumps(obj)
    return WriteResult(raw, created, warnings)


class ObjectService:
    """Creates, updates, patches and deletes objects with Kubernetes' rules."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- reads -------------------------------------------------------------------------------

    async def get(self, info: ResourceInfo, namespace: str, name: str) -> StoredObject:
        try:
            return await self.store.get(info.key, namespace, name)
        except store_errors.NotFound:
            raise errors.not_found(info, name) from None

    async def list_objects(self, info: ResourceInfo, query: Query = Query()) -> tuple[list[StoredObject], int]:
        return await self.store.list(info.key, query)

    async def ensure_namespace(self, namespace: str) -> None:
        """404 ``namespaces "x" not found`` unless the namespace exists."""
        try:
            await self.store.get(NAMESPACES.key, "", namespace)
        except store_errors.NotFound:
            raise errors.namespace_not_found(namespace) from None

    # ---- create ------------------------------------------------------------------------------

    async def create(
        self, info: ResourceInfo, namespace: str, obj: dict[str, Any], opts: WriteOptions = WriteOptions()
    ) -> WriteResult:
        """POST: a new object; generateName picks a free name."""
        warnings = self._check_body(info, obj, opts)
        meta = obj["metadata"]
        self._place(info, namespace, meta)
        if info.namespaced:
            await self.ensure_namespace(meta["namespace"])
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(utcnow())
        strategy.prepare_for_create(info, obj)
        managed_fields.record(obj, opts.field_manager, "Update", info.api_version)
        generated = not meta.get("name") and bool(meta.get("generateName"))
        for _ in range(8):
            if generated:
                meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_ALPHABET, k=5))  # as Go's math/rand
            self._default_and_validate(info, obj, None)
            if opts.dry_run:
                return _stored_result(obj, True, warnings)
            try:
                return _stored_result(await self.store.create(info.key, obj), True, warnings)
            except store_errors.AlreadyExists:
                if not generated:
                    raise errors.already_exists(info, meta["name"]) from None
        raise APIError(500, "InternalError", "could not generate a unique name; try again")

    # ---- update ------------------------------------------------------------------------------

    async def update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        obj: dict[str, Any],
        opts: WriteOptions = WriteOptions(),
        subresource: str = "",
    ) -> WriteResult:
        """PUT: replace the object (or its status), honouring a resourceVersion precondition."""
        warnings = self._check_body(info, obj, opts)
        meta = obj["metadata"]
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        self._place(info, namespace, meta)
        expect_rv = _parse_rv(meta.get("resourceVersion"))
        stored = await self.get(info, namespace, name)
        if expect_rv is not None and expect_rv != stored.rv:
            raise errors.conflict(info, name)
        old = stored.decode()
        managed_fields.record(obj, opts.field_manager, "Update", info.api_version, old)
        try:
            result = await self._write(info, obj, stored, opts, subresource, old)
        except store_errors.Conflict:  # written by someone else since ``stored`` was read
            raise errors.conflict(info, name) from None
        result.warnings[:0] = warnings
        return result

    async def patch(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        opts: WriteOptions = WriteOptions(),
        subresource: str = "",
    ) -> WriteResult:
        """PATCH with any of the four patch types; server-side apply creates a missing object."""
        schema = kind_schema(info.api_version, info.kind)
        for _ in range(5):
            try:
                stored: StoredObject | None = await self.store.get(info.key, namespace, name)
            except store_errors.NotFound:
                stored = None
            if content_type == APPLY_PATCH:
                applied = _parse_apply_body(body)
                if not isinstance(applied.get("metadata"), dict):
                    applied["metadata"] = {}
                applied["metadata"].setdefault("name", name)
                if stored is None:
                    if subresource:
                        raise errors.not_found(info, name)
                    warnings = self._check_body(info, applied, opts)
                    new = _applied(None, applied, None, schema)
                    managed_fields.record_apply(new, opts.field_manager or "unknown", info.api_version, applied)
                    result = await self.create(info, namespace, new, _without_validation(opts))
                    result.warnings[:0] = warnings
                    return result
                live = stored.decode()
                previous = managed_fields.applied_skeleton(live, opts.field_manager or "unknown")
                warnings = self._check_body(info, applied, opts)
                new = _applied(live, applied, previous, schema)
                managed_fields.record_apply(new, opts.field_manager or "unknown", info.api_version, applied)
            else:
                if stored is None:
                    raise errors.not_found(info, name)
                live = stored.decode()
                try:
                    new = apply_patch(content_type, live, _parse_patch_body(body), schema)
                except UnsupportedPatchType:
                    raise errors.unsupported_media_type(content_type, PATCH_TYPES) from None
                except PatchError as err:
                    raise _patch_failed(err) from None
                if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                    raise errors.bad_request("the patched object is not a valid object")
                warnings = self._check_body(info, new, opts)
                managed_fields.record(new, opts.field_manager, "Update", info.api_version, live)
            if new["metadata"].get("name", name) != name:
                raise errors.bad_request("the name of an object cannot be changed by a patch")
            uid, live_uid = new["metadata"].get("uid"), live["metadata"].get("uid")
            if uid and uid != live_uid:  # a uid in a patch is a precondition, as in Kubernetes
                raise errors.conflict(
                    info, name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: {live_uid}"
                )
            expect_rv = _parse_rv(new["metadata"].get("resourceVersion"))
            if expect_rv is not None and expect_rv != stored.rv:
                raise errors.conflict(info, name)
            try:
                result = await self._write(info, new, stored, opts, subresource, live)
            except store_errors.Conflict:
                continue
            result.warnings[:0] = warnings
            return result
        raise errors.conflict(info, name)

    async def _write(
        self,
        info: ResourceInfo,
        obj: dict[str, Any],
        stored: StoredObject,
        opts: WriteOptions,
        subresource: str,
        old: dict[str, Any],
    ) -> WriteResult:
        """Write ``obj`` over ``stored``; ``old`` is ``stored`` decoded (this call may modify it)."""
        obj["metadata"].pop("resourceVersion", None)
        if subresource == "status":
            obj = strategy.prepare_for_status_update(obj, old)
            obj["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
        elif subresource:
            raise errors.method_not_allowed()
        else:
            strategy.prepare_for_update(info, obj, old)
        self._default_and_validate(info, obj, old)
        old["metadata"].pop("resourceVersion", None)
        if managed_fields.without(obj) == managed_fields.without(old):
            return _stored_result(stored, False, [])
        if _ready_to_remove(info, obj):
            if opts.dry_run:
                return _stored_result(obj, False, [])
            return _stored_result(await self._remove(info, stored), False, [])
        if opts.dry_run:
            obj["metadata"]["resourceVersion"] = str(stored.rv)
            return _stored_result(obj, False, [])
        try:
            updated = await self.store.update(info.key, obj, expect_rv=stored.rv)
        except store_errors.NotFound:
            raise errors.not_found(info, stored.name) from None
        return _stored_result(updated, False, [])

    # ---- delete ------------------------------------------------------------------------------

    async def delete(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        options: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[bytes, bool]:
        """DELETE; returns the object's last (or terminating) state and whether it is gone now.

        Pods bound to a node get a grace period (the agent finishes the deletion); finalizers,
        ``Foreground`` and ``Orphan`` propagation keep the object with a deletionTimestamp until
        the garbage collector has done its part.
        """
        options = options or {}
        stored = await self.get(info, namespace, name)
        obj = stored.decode()
        meta = obj["metadata"]
        _check_preconditions(info, name, meta, options.get("preconditions"))
        if info.kind == "Namespace" and name in _PROTECTED_NAMESPACES:
            raise errors.forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
        policy = _propagation_policy(options)
        finalizers = list(meta.get("finalizers", []))
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        elif policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        grace = _grace_period(info, obj, options)
        if not finalizers and grace == 0 and info.kind != "Namespace":
            if dry_run:
                return stored.raw, True
            return (await self._remove(info, stored)).raw, True
        already = meta.get("deletionTimestamp")
        if finalizers:
            meta["finalizers"] = finalizers
        meta.setdefault("deletionTimestamp", rfc3339(utcnow()))
        meta["deletionGracePeriodSeconds"] = min(grace, meta.get("deletionGracePeriodSeconds", grace))
        if info.kind == "Namespace":
            obj.setdefault("status", {})["phase"] = "Terminating"
        if dry_run or (already and obj == stored.decode()):
            return orjson.dumps(obj), False
        meta.pop("resourceVersion", None)
        try:
            updated = await self.store.update(info.key, obj, expect_rv=stored.rv)
        except store_errors.Conflict:  # written by someone else since ``stored`` was read
            raise errors.conflict(info, name) from None
        except store_errors.NotFound:
            raise errors.not_found(info, name) from None
        return updated.raw, False

    async def _remove(self, info: ResourceInfo, stored: StoredObject) -> StoredObject:
        try:
            return await self.store.delete(info.key, stored.namespace, stored.name)
        except store_errors.NotFound:
            raise errors.not_found(info, stored.name) from None

    # ---- helpers -----------------------------------------------------------------------------

    def _check_body(self, info: ResourceInfo, obj: dict[str, Any], opts: WriteOptions) -> list[str]:
        """Kind, apiVersion and unknown-field checks; returns Warning header values."""
        if not isinstance(obj, dict):
            raise errors.bad_request(f"the body must be a JSON object holding a {info.kind}")
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind is not None and kind != info.kind:
            raise errors.bad_request(
                f'{kind} in version "{api_version}" cannot be handled as a {info.kind}: '
                f"the kind in the body ({kind}) does not match the resource's kind ({info.kind})"
            )
        if api_version is not None and api_version != info.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.api_version})"
            )
        obj["kind"], obj["apiVersion"] = info.kind, info.api_version
        if obj.get("metadata") is None:
            obj["metadata"] = {}
        if not isinstance(obj["metadata"], dict):
            raise errors.bad_request(f"{info.kind}.metadata must be an object")
        report = strict.check_fields(info.api_version, info.kind, obj)
        if report.type_errors:
            raise errors.bad_request(strict.decode_error_message(info.kind, info.version, report.type_errors[0]))
        if not report.unknown:
            return []
        if opts.field_validation == "Strict":
            raise errors.bad_request(strict.strict_error_message(info.kind, info.version, report.unknown))
        pruned = strict.prune_unknown(info.api_version, info.kind, obj)
        obj.clear()
        obj.update(pruned)
        return strict.warning_headers(report.unknown) if opts.field_validation == "Warn" else []

    @staticmethod
    def _place(info: ResourceInfo, namespace: str, meta: dict[str, Any]) -> None:
        """Put the object in the URL's namespace (or none, for cluster-scoped kinds)."""
        if not info.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace", namespace) != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace

    @staticmethod
    def _default_and_validate(info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        apply_defaults(info.kind, obj)
        causes = validate(info.kind, obj, old)
        if causes:
            name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "")
            raise errors.invalid(info, name, causes)


PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
]


def _without_validation(opts: WriteOptions) -> WriteOptions:
    """Options for the create behind an apply: its body was checked and its manager recorded already."""
    return WriteOptions(opts.dry_run, "Ignore", "", opts.force)


def _parse_rv(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.bad_request(f"invalid resourceVersion {value!r}: must be an integer string") from None


def _patch_failed(err: PatchError) -> APIError:
    return APIError(err.code, "BadRequest" if err.code == 400 else "Invalid", str(err))


def _applied(
    live: dict[str, Any] | None, applied: dict[str, Any], previous: dict[str, Any] | None, schema: FieldSchema
) -> dict[str, Any]:
    """``server_side_apply``, its failures as Status errors."""
    try:
        return server_side_apply(live, applied, previous, schema)
    except PatchError as err:
        raise _patch_failed(err) from None


def _parse_patch_body(body: bytes) -> Any:
    try:
        patch = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise errors.bad_request(f"the patch body is not valid JSON: {err}") from None
    check_depth(patch)
    return patch


def _parse_apply_body(body: bytes) -> dict[str, Any]:
    obj = load_yaml_or_json(body)
    if not isinstance(obj, dict):
        raise errors.bad_request("an apply patch must be a single object")
    return obj


def _ready_to_remove(info: ResourceInfo, obj: dict[str, Any]) -> bool:
    """A terminating object whose finalizers are done (and, for pods, whose grace is over)."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if info.kind == "Namespace":
        return False
    return info.kind != "Pod" or meta.get("deletionGracePeriodSeconds", 0) == 0


def _check_preconditions(info: ResourceInfo, name: str, meta: dict[str, Any], pre: Any) -> None:
    if not isinstance(pre, dict):
        return
    uid, rv = pre.get("uid"), pre.get("resourceVersion")
    if uid and uid != meta.get("uid"):
        raise errors.conflict(
            info,
            name,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}",
        )
    if rv and rv != meta.get("resourceVersion"):
        raise errors.conflict(
            info,
            name,
            f"Precondition failed: ResourceVersion in precondition: {rv}, "
            f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
        )


def _propagation_policy(options: dict[str, Any]) -> str:
    policy = options.get("propagationPolicy")
    if policy in ("Foreground", "Background", "Orphan"):
        return str(policy)
    if policy not in (None, ""):
        raise errors.bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
        )
    if options.get("orphanDependents") is True:
        return "Orphan"
    return "Background"


def _grace_period(info: ResourceInfo, obj: dict[str, Any], options: dict[str, Any]) -> int:
    """Seconds of graceful termination: only pods bound to a node get any."""
    if info.kind != "Pod" or not obj.get("spec", {}).get("nodeName"):
        return 0
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = obj["spec"].get("terminationGracePeriodSeconds", 30)
    if not isinstance(grace, int) or grace < 0:
        raise errors.bad_request("gracePeriodSeconds must be a non-negative integer")
    if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    return grace
