"""The authenticated caller of a request."""

from __future__ import annotations

import functools
from dataclasses import dataclass

NODE_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
ADMIN_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
REQUEST_USER = "user"  # request key holding the ``User``


@dataclass(frozen=True, slots=True)
class User:
    """A user name and its groups, as Kubernetes' authenticators produce them."""

    name: str
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    @property
    def node(self) -> str | None:
        """The node name for ``system:node:NAME`` in group ``system:nodes``, else None."""
        if NODE_GROUP in self.groups and self.name.startswith(NODE_USER_PREFIX):
            return self.name[len(NODE_USER_PREFIX) :]
        return None


@functools.lru_cache(maxsize=100_000)
def node_user(name: str) -> User:
    """The user a node's token authenticates (one per node, kept: every heartbeat needs it)."""
    return User(NODE_USER_PREFIX + name, (NODE_GROUP, AUTHENTICATED_GROUP))


SUPERUSER = User("system:apiserver", (ADMIN_GROUP, AUTHENTICATED_GROUP))
