"""Each service instance says it is alive on ``svc.heartbeat.<service>`` every few seconds."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from datetime import UTC, datetime

from faststream import FastStream
from faststream.nats import NatsBroker

from common.messages import ServiceHeartbeat, encoded
from common.tasks import cancel_and_wait

log = logging.getLogger(__name__)


def attach_heartbeat(app: FastStream, broker: NatsBroker, service: str, interval: float) -> None:
    """Send heartbeats from start-up to shutdown of ``app`` (core NATS: nothing is stored)."""
    instance = f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
    started_at = datetime.now(UTC)
    task: asyncio.Task[None] | None = None

    async def beat() -> None:
        while True:
            heartbeat = ServiceHeartbeat(
                service=service,
                instance=instance,
                started_at=started_at,
                sent_at=datetime.now(UTC),
                interval_seconds=interval,
            )
            try:
                await broker.publish(encoded(heartbeat), heartbeat.subject)
            except Exception as exc:  # a missed beat is what the admin API shows; go on
                log.warning("heartbeat not sent: %s", exc)
            await asyncio.sleep(interval)

    @app.after_startup
    async def start_beating() -> None:
        nonlocal task
        task = asyncio.create_task(beat())

    @app.on_shutdown
    async def stop_beating() -> None:
        await cancel_and_wait(task)
