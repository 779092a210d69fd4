"""The scheduler listens for completed windows to send a pair that is still behind at once."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from common.messages import WindowCompleted

COMPLETIONS = f"{WindowCompleted.SUBJECT_PREFIX}.>"


async def listen_for_completions(client: Client, wake: asyncio.Event) -> Subscription:
    """Wake the planner on every completed window: a pair still behind is planned again now,
    not at the next tick.

    Only the arrival counts, not the body (a forged one can only bring a tick forward), so this
    is a plain core subscription, not a FastStream subscriber: decoding, middlewares and a span
    per completion were a quarter of the scheduler's CPU at a high completion rate.
    """

    async def completed(_: Msg) -> None:
        wake.set()

    return await client.subscribe(COMPLETIONS, cb=completed)


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
