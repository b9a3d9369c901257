"""Errors raised by the patch functions.

ValueError
├── PatchError            the patch is malformed or cannot be applied; ``code`` is the HTTP status
└── UnsupportedPatchType  a PATCH Content-Type that ``apply_patch`` does not handle (answer 415)
"""

from __future__ import annotations


class PatchError(ValueError):
    """A patch that cannot be decoded or applied.

    ``code`` is the status Kubernetes answers with: 400 for a malformed patch, 422 for a JSON patch
    whose operations do not apply to the object (missing path, failed ``test``).
    """

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UnsupportedPatchType(ValueError):
    """The request's Content-Type is not a patch type handled by ``apply_patch``."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            f"application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type!r})"
        )
        self.content_type = content_type
