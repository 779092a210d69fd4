"""The scheduler listens for completed windows to send a pair that is still behind at once."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from faststream.nats import NatsRouter

from common.bus import LoopContext
from common.messages import WindowCompleted

router_subject = f"{WindowCompleted.SUBJECT_PREFIX}.>"
WakeDep = Annotated[asyncio.Event, LoopContext("wake_scheduler")]


def build_router() -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(router_subject)
    async def window_completed(event: WindowCompleted, wake: WakeDep) -> None:
        # Catch-up: plan again now instead of waiting for the next tick.
        wake.set()

    return router


async def until_next_tick(
    wake: asyncio.Event, *, tick_seconds: float, gather_seconds: float
) -> None:
    """Wait for the next tick: ``tick_seconds``, or less when a completed window wakes the
    planner; then the completions of the next ``gather_seconds`` are gathered into that same
    tick (at a high rate, one tick per completion would plan one window each)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=tick_seconds)
        await asyncio.sleep(gather_seconds)
    wake.clear()
