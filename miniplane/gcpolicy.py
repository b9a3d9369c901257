"""The server's settings for CPython's cyclic garbage collector.

The defaults (a young collection every 700 net allocations, a full one after 100 young ones once
the old generation grew by a quarter) suit short scripts. A server allocates hundreds of dicts per
request and keeps many in flight across awaits (a decoded pod waiting for its log write): at 700
they are promoted as if long-lived, and full collections then traverse the whole heap every second
or two, finding nothing. In the 10,000-node DaemonSet bench that was a third of the server's CPU.
A larger young generation lets in-flight objects die young; freezing the start-up heap (modules,
Kubernetes' schemas, the recovered store) keeps it out of every later collection.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION = 20_000  # net allocations between young collections (CPython's default: 700)


def configure_for_server() -> None:
    """Freeze what exists now and widen the young generation; call once the server has started."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION, 10, 10)
