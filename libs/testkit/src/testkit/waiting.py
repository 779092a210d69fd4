"""Waiting for an asynchronous system to reach a state, with a clear message when it does not."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]],
    *,
    within: float,
    what: str,
    interval: float = 0.5,
    tolerate_errors: bool = False,
) -> None:
    """Poll ``check`` until it is true; fail after ``within`` seconds naming ``what``.

    ``tolerate_errors`` treats a check that raises (a server being killed) as not yet true.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(*((Exception,) if tolerate_errors else ())):
            if await check():
                return
        await asyncio.sleep(interval)
    raise AssertionError(f"not within {within}s: {what}")
