"""Errors raised by every store backend.

    StoreError
    ├── NotFound        the key does not exist
    ├── AlreadyExists   create of a key that exists
    ├── Conflict        expected resourceVersion differs from the stored one
    ├── Gone            watch from a resourceVersion older than the history window
    └── WatchOverflow   a watcher fell too far behind and was dropped

``miniplane.objects.errors`` is the only place that turns them into Kubernetes ``Status`` bodies.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of store errors."""


class _KeyError(StoreError):
    def __init__(self, resource: str, namespace: str, name: str) -> None:
        super().__init__(f"{resource} {namespace}/{name}")
        self.resource = resource
        self.namespace = namespace
        self.name = name


class NotFound(_KeyError):
    """The object does not exist."""


class AlreadyExists(_KeyError):
    """An object with that key exists already."""


class Conflict(_KeyError):
    """The caller's resourceVersion precondition does not hold."""


class Gone(StoreError):
    """A watch asked for history the store no longer keeps."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class WatchOverflow(StoreError):
    """A watcher's buffer filled up; the watcher must re-list."""
