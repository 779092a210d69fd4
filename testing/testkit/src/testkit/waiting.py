"""Waiting for an asynchronous system to reach a state, with a clear message when it does not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


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


async def stop_within(stop: Awaitable[object], *, within: float, what: str) -> None:
    """Await a teardown step for at most ``within`` seconds, then go on without it.

    A stop that hangs (a consumer stuck on a dead server, a loaded machine) must not keep the
    test past its timeout: what it leaves is logged, and the test kit's servers go away with the
    test process anyway.
    """
    try:
        await asyncio.wait_for(stop, within)
    except TimeoutError:
        logger.warning("%s did not stop within %.0fs; going on without it", what, within)
