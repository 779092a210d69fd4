"""The scheduler's tick: as leader, publish one window command for every due pair."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import APIError
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import PauseSwitch
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import SyncWindow, encoded
from common.metrics import CONSUMER_PENDING, LAG, WINDOWS_PUBLISHED
from common.streams import (
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
)
from common.telemetry import annotate_run
from scheduler.domain import PlannedWindow, WindowPolicy, plan
from scheduler.lease import LeaderLease

log = logging.getLogger(__name__)

# JetStream's answer when the subject already holds a window: that pair is in flight.
MAX_MSGS_PER_SUBJECT_EXCEEDED = 10077

# Publishes a command; returns False when JetStream dropped it as a duplicate.
PublishWindow = Callable[[SyncWindow], Awaitable[bool]]


def window_publisher(broker: NatsBroker, timeout: float) -> PublishWindow:
    """Publish a window command with its dedup id and wait for JetStream's acknowledgement."""

    async def publish(command: SyncWindow) -> bool:
        ack = await broker.publish(
            encoded(command),
            command.subject,
            stream=WINDOWS_STREAM,
            headers={"Nats-Msg-Id": command.message_id, "content-type": "application/json"},
            timeout=timeout,
        )
        return not ack.duplicate

    return publish


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: PublishWindow,
        lease: LeaderLease,
        pause: PauseSwitch,
        policies: Mapping[Family, WindowPolicy],
        *,
        stale_after: timedelta,
        clock: Callable[[], datetime],
        tracer: Tracer | None = None,
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._lease = lease
        self._pause = pause
        self._policies = policies
        self._stale_after = stale_after
        self._clock = clock
        self._tracer = tracer or trace.get_tracer(__name__)

    async def tick(self) -> int:
        """Publish the windows that are due; returns how many JetStream accepted."""
        if not await self._lease.hold() or await self._pause.is_on():
            return 0
        now = self._clock()
        async with self._sessions() as session:
            pairs = await SyncRepository(session).pair_states(
                list(self._policies), now, self._stale_after
            )
        for pair in pairs:
            if pair.cursor is not None:
                LAG.labels(pair.family).observe((now - pair.cursor).total_seconds())
        accepted = 0
        for planned in plan(pairs, now, self._policies):
            accepted += await self._dispatch(planned, now)
        return accepted

    @property
    def is_leader(self) -> bool:
        return self._lease.held

    async def release_leadership(self) -> None:
        """Hand the lease over at once (on shutdown) instead of after its TTL."""
        await self._lease.release()

    async def _dispatch(self, planned: PlannedWindow, now: datetime) -> int:
        command = SyncWindow(
            run_id=uuid.uuid4(),
            account_id=planned.account_id,
            family=planned.family,
            window_from=planned.window.start if planned.window else None,
            window_to=planned.window.end if planned.window else now,
            trigger=planned.trigger,
            issued_at=now,
        )
        # The root span of the window's trace: fetcher and writer spans descend from it.
        with self._tracer.start_as_current_span(
            f"schedule {command.subject_name}", kind=SpanKind.PRODUCER
        ):
            annotate_run(command)
            try:
                if not await self._publish(command):
                    return 0
            except APIError as exc:
                if exc.err_code == MAX_MSGS_PER_SUBJECT_EXCEEDED:
                    return 0  # a window of this pair is still in flight
                raise
        WINDOWS_PUBLISHED.labels(command.family, command.trigger).inc()
        async with self._sessions.begin() as session:
            await SyncRepository(session).record_queued(command, now)
        log.info(
            "queued %s window %s..%s for account %s (run %s)",
            command.family,
            command.window_from,
            command.window_to,
            command.account_id,
            command.run_id,
        )
        return 1


async def record_backlog(js: JetStreamContext) -> None:
    """Publish the durable consumers' backlog as gauges (what autoscaling also looks at)."""
    for stream, durable in ((WINDOWS_STREAM, FETCHER_DURABLE), (PAGES_STREAM, WRITER_DURABLE)):
        info = await js.consumer_info(stream, durable)
        CONSUMER_PENDING.labels(stream, durable).set(info.num_pending + info.num_ack_pending)
