"""The scheduler listens for completed windows to send a pair that is still behind at once."""

from __future__ import annotations

import asyncio
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
