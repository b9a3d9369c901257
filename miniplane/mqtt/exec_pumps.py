"""Both directions of an exec stream relayed over MQTT, as the agent and the server run them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

OUTPUT_GRACE = 2.0  # seconds a command's output may still flow once the client side has gone


async def pump_both_ways(down: Coroutine[Any, Any, None], upward: Coroutine[Any, Any, None]) -> None:
    """Run ``down`` (output towards the client) and ``upward`` (input from it) until either ends;
    when ``upward`` ended first, let ``down`` finish for ``OUTPUT_GRACE`` s; then stop both."""
    down_task = asyncio.create_task(down)
    upward_task = asyncio.create_task(upward)
    await asyncio.wait([down_task, upward_task], return_when=asyncio.FIRST_COMPLETED)
    if upward_task.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(down_task), OUTPUT_GRACE)
    for task in (down_task, upward_task):
        task.cancel()
    await asyncio.gather(down_task, upward_task, return_exceptions=True)
