"""API errors and their Kubernetes ``Status`` bodies.

    APIError(code, reason, message, details)
    ├── from_store(StoreError, info)   NotFound 404, AlreadyExists 409, Conflict 409, Gone 410
    └── helpers: not_found, bad_request, invalid (422 with causes), method_not_allowed, ...

This is the only module that shapes ``Status`` objects; kubectl builds its messages from
``reason``, ``code`` and ``details`` (kubectl-wire.md §1.3).
"""

from __future__ import annotations

from typing import Any

from miniplane.resources.causes import Cause
from miniplane.resources.registry import ResourceInfo
from miniplane.store import errors as store_errors


class APIError(Exception):
    """An error answered with a ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The ``metav1.Status`` body."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(info: ResourceInfo, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": info.plural}
    if info.group:
        details["group"] = info.group
    return details


def not_found(info: ResourceInfo, name: str) -> APIError:
    return APIError(404, "NotFound", f'{info.key} "{name}" not found', _details(info, name))


def namespace_not_found(namespace: str) -> APIError:
    return APIError(404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"})


def already_exists(info: ResourceInfo, name: str) -> APIError:
    return APIError(409, "AlreadyExists", f'{info.key} "{name}" already exists', _details(info, name))


def conflict(info: ResourceInfo, name: str, why: str = "") -> APIError:
    message = why or "the object has been modified; please apply your changes to the latest version and try again"
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {info.key} "{name}": {message}',
        _details(info, name),
    )


def gone(requested: int, oldest: int) -> APIError:
    return APIError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def invalid(info: ResourceInfo, name: str, causes: list[Cause]) -> APIError:
    """422 Invalid; kubectl prints ``The <Kind> "<name>" is invalid: <field>: <message>``."""
    summary = "; ".join(f"{c['field']}: {c['message']}" if c["field"] else c["message"] for c in causes)
    group = f".{info.group}" if info.group else ""
    details: dict[str, Any] = {"name": name, "kind": info.kind, "causes": list(causes)}
    if info.group:
        details["group"] = info.group
    if len(causes) > 1:
        summary = f"[{summary}]"
    return APIError(422, "Invalid", f'{info.kind}{group} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def forbidden(message: str) -> APIError:
    return APIError(403, "Forbidden", message)


def method_not_allowed() -> APIError:
    return APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unknown_path() -> APIError:
    return APIError(404, "NotFound", "the server could not find the requested resource")


def unsupported_media_type(content_type: str, accepted: list[str]) -> APIError:
    return APIError(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format ("{content_type}") - accepted media types include: '
        + ", ".join(accepted),
    )


def too_large(limit: int) -> APIError:
    return APIError(413, "RequestEntityTooLarge", f"the request body is larger than the limit of {limit} bytes")


def from_store(err: store_errors.StoreError, info: ResourceInfo) -> APIError:
    """Map a store error to its API error."""
    if isinstance(err, store_errors.NotFound):
        return not_found(info, err.name)
    if isinstance(err, store_errors.AlreadyExists):
        return already_exists(info, err.name)
    if isinstance(err, store_errors.Conflict):
        return conflict(info, err.name)
    if isinstance(err, store_errors.Gone):
        return gone(err.requested, err.oldest)
    return APIError(500, "InternalError", f"store error: {err}")


def success(info: ResourceInfo, name: str, uid: str, code: int = 200) -> dict[str, Any]:
    """A ``Status`` of success, as a delete may answer."""
    details = _details(info, name)
    details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
        "code": code,
    }
