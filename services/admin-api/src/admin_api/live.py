"""What the admin API learns from the bus while it runs: service heartbeats, and the wake-up
calls of live-update streams (a completed run, an operator's action)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from common.messages import ServiceHeartbeat, WindowCompleted

log = logging.getLogger(__name__)


class ChangeFeed:
    """Wakes every live-update stream at once; streams also wake on their own poll interval."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, at_most: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), at_most)


class StreamSlot:
    """One user's claim on a live stream; releasing twice is harmless (the stream's end and
    the response's background task both release it)."""

    def __init__(self, slots: StreamSlots, user_id: int) -> None:
        self._slots, self._user_id, self._held = slots, user_id, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._release(self._user_id)


class StreamSlots:
    """Live streams open per user in this process: each poll costs the database, so one user
    cannot open unlimited streams."""

    def __init__(self, per_user: int) -> None:
        self._per_user = per_user
        self._open: dict[int, int] = {}

    def acquire(self, user_id: int) -> StreamSlot | None:
        """A slot, or None when the user holds ``per_user`` streams already."""
        if self._open.get(user_id, 0) >= self._per_user:
            return None
        self._open[user_id] = self._open.get(user_id, 0) + 1
        return StreamSlot(self, user_id)

    def open_for(self, user_id: int) -> int:
        return self._open.get(user_id, 0)

    def _release(self, user_id: int) -> None:
        left = self._open.get(user_id, 0) - 1
        if left > 0:
            self._open[user_id] = left
        else:
            self._open.pop(user_id, None)


@dataclass(frozen=True)
class SeenHeartbeat:
    heartbeat: ServiceHeartbeat
    received_at: datetime


class Heartbeats:
    """The last heartbeat of every service instance, kept in memory (each replica its own)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], SeenHeartbeat] = {}

    def record(self, heartbeat: ServiceHeartbeat, received_at: datetime) -> None:
        self._last[(heartbeat.service, heartbeat.instance)] = SeenHeartbeat(heartbeat, received_at)

    def latest(self) -> list[SeenHeartbeat]:
        return sorted(
            self._last.values(), key=lambda s: (s.heartbeat.service, s.heartbeat.instance)
        )


async def subscribe(
    nc: NatsClient, heartbeats: Heartbeats, changes: ChangeFeed, clock: Callable[[], datetime]
) -> list[Subscription]:
    """Core subscriptions (no JetStream state): heartbeats, and completed runs as wake-ups."""

    async def on_heartbeat(msg: Msg) -> None:
        try:
            heartbeats.record(ServiceHeartbeat.model_validate_json(msg.data), clock())
        except ValidationError:
            log.warning("ignoring a malformed heartbeat on %s", msg.subject)

    async def on_completed(msg: Msg) -> None:
        changes.notify()

    return [
        await nc.subscribe(f"{ServiceHeartbeat.SUBJECT_PREFIX}.>", cb=on_heartbeat),
        await nc.subscribe(f"{WindowCompleted.SUBJECT_PREFIX}.>", cb=on_completed),
    ]
