"""The scheduler's tick: as leader, publish one window command for every due pair."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import PauseSwitch
from common.db.accounts import AccountRepository
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import SyncWindow
from common.metrics import CONSUMER_PENDING, LAG, WINDOWS_PUBLISHED
from common.scheduling import PublishOutcome, publish_window, window_command
from common.streams import (
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
)
from scheduler.domain import PlannedWindow, WindowPolicy, plan
from scheduler.lease import LeaderLease

log = logging.getLogger(__name__)

# Publishes a command; says whether JetStream took it, dropped it or holds the pair's window.
PublishWindow = Callable[[SyncWindow], Awaitable[PublishOutcome]]


def window_publisher(
    broker: NatsBroker, timeout: float, tracer: Tracer | None = None
) -> PublishWindow:
    """The scheduler's way onto the bus: :func:`common.scheduling.publish_window`."""
    spans = tracer or trace.get_tracer(__name__)

    async def publish(command: SyncWindow) -> PublishOutcome:
        return await publish_window(broker, spans, command, timeout)

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
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._lease = lease
        self._pause = pause
        self._policies = policies
        self._stale_after = stale_after
        self._clock = clock

    async def tick(self) -> int:
        """Publish the windows that are due; returns how many JetStream accepted."""
        if not await self._lease.hold() or await self._pause.is_on():
            return 0
        now = self._clock()
        paused_orgs = await self._pause.paused_orgs()
        async with self._sessions() as session:
            pairs = await SyncRepository(session).pair_states(
                list(self._policies), now, self._stale_after
            )
            # An org's admin paused that org: its accounts get no new windows.
            paused = await AccountRepository(session).ids_in_orgs(sorted(paused_orgs))
        pairs = [pair for pair in pairs if pair.account_id not in paused]
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
        # One transaction around the publish (docs/adr/0011-fencing.md): the pair's fence row stays
        # locked from taking the fence until the run is recorded as its newest, so no page of
        # an older run commits in between; a window JetStream refuses rolls it all back.
        async with self._sessions() as session, session.begin() as transaction:
            sync = SyncRepository(session)
            fence = await sync.take_fence(planned.account_id, planned.family)
            if fence is None:
                return 0  # a page of the pair is being written right now: next tick
            command = window_command(planned, now, fence=fence)
            if await self._publish(command) is not PublishOutcome.ACCEPTED:
                await transaction.rollback()
                return 0  # a repeat of a window already sent, or the pair is still in flight
            WINDOWS_PUBLISHED.labels(command.family, command.trigger).inc()
            await sync.record_queued(command)
        log.info(
            "queued %s window %s..%s for account %s (run %s, fence %s)",
            command.family,
            command.window_from,
            command.window_to,
            command.account_id,
            command.run_id,
            command.fence,
        )
        return 1


async def record_backlog(js: JetStreamContext) -> None:
    """Publish the durable consumers' backlog as gauges (what autoscaling also looks at)."""
    for stream, durable in ((WINDOWS_STREAM, FETCHER_DURABLE), (PAGES_STREAM, WRITER_DURABLE)):
        info = await js.consumer_info(stream, durable)
        CONSUMER_PENDING.labels(stream, durable).set(info.num_pending + info.num_ack_pending)
