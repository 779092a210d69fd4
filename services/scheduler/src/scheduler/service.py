"""The scheduler's tick: as leader, publish one window command for every due pair, together."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import PauseSwitch
from common.db.sync import DueTime, SyncRepository
from common.families import Family
from common.messages import SyncWindow
from common.metrics import CONSUMER_PENDING, LAG, WINDOWS_PUBLISHED
from common.scheduling import (
    PublishOutcome,
    plan_or_recheck,
    publish_windows,
    window_command,
)
from common.streams import (
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
)
from scheduler.domain import PlannedWindow, WindowPolicy
from scheduler.lease import LeaderLease

log = logging.getLogger(__name__)

# Publishes a tick's commands together; says for each whether JetStream took it, dropped it
# (a duplicate), holds the pair's window (in flight), or the error it met.
PublishWindows = Callable[[Sequence[SyncWindow]], Awaitable[list[PublishOutcome | Exception]]]

# A planner clock that moved against the database's by more than this makes the stored due
# times (database clock) meaningless: that tick plans every pair.
CLOCK_JUMP = timedelta(seconds=2)


def window_publisher(
    broker: NatsBroker, timeout: float, tracer: Tracer | None = None
) -> PublishWindows:
    """The scheduler's way onto the bus: :func:`common.scheduling.publish_windows`."""
    spans = tracer or trace.get_tracer(__name__)

    async def publish(commands: Sequence[SyncWindow]) -> list[PublishOutcome | Exception]:
        return await publish_windows(broker, spans, commands, timeout)

    return publish


@dataclass
class TickSummary:
    candidates: int = 0
    planned: int = 0
    accepted: int = 0
    in_flight: int = 0
    duplicates: int = 0
    busy: int = 0
    errors: int = 0


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: PublishWindows,
        lease: LeaderLease,
        pause: PauseSwitch,
        policies: Mapping[Family, WindowPolicy],
        *,
        stale_after: timedelta,
        clock: Callable[[], datetime],
        full_plan_every: timedelta = timedelta(minutes=5),
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._lease = lease
        self._pause = pause
        self._policies = policies
        self._stale_after = stale_after
        self._clock = clock
        self._full_plan_every = full_plan_every
        # The planner clock minus the database's at the last full plan, and when that was
        # (database clock); None: plan every pair at the next tick.
        self._offset: timedelta | None = None
        self._full_plan_at: datetime | None = None

    async def tick(self) -> int:
        """Publish the windows that are due; returns how many JetStream accepted.

        Reads only the pairs whose stored due time has come (plus new pairs), and every pair
        on a new leadership, when the planner clock jumped, and every ``full_plan_every`` (a
        safety net: nothing that makes a pair due sooner can stay unnoticed longer)."""
        was_leader = self._lease.held
        if not await self._lease.hold() or await self._pause.is_on():
            return 0
        if not was_leader:
            self._offset = None
        now = self._clock()
        paused_orgs = await self._pause.paused_orgs()
        async with self._sessions() as session:
            sync = SyncRepository(session)
            db_now = await sync.database_now()
            every_pair = self._needs_full_plan(now, db_now)
            candidates = await sync.pairs_to_plan(
                list(self._policies),
                now,
                self._stale_after,
                every_pair=every_pair,
                paused_orgs=sorted(paused_orgs),
            )
        if every_pair:
            self._offset, self._full_plan_at = now - db_now, db_now
        summary = TickSummary(candidates=len(candidates))
        planned: dict[tuple[int, Family], PlannedWindow] = {}
        later: list[DueTime] = []
        lag = {family: LAG.labels(family) for family in self._policies}
        for candidate in candidates:
            pair = candidate.pair
            if pair.cursor is not None and not every_pair:
                # Sampled: each pair is observed when it is looked at (about once a cadence).
                lag[pair.family].observe((now - pair.cursor).total_seconds())
            decision = plan_or_recheck(pair, now, self._policies[pair.family])
            if isinstance(decision, PlannedWindow):
                planned[(pair.account_id, pair.family)] = decision
            elif candidate.version is not None and (
                not every_pair or _moved(candidate.due_at, decision, now, db_now)
            ):
                later.append(DueTime(pair.account_id, pair.family, candidate.version, decision))
        summary.planned = len(planned)
        if later:
            async with self._sessions() as session, session.begin():
                await SyncRepository(session).store_due_times(later, now, db_now)
        if planned:
            await self._dispatch(list(planned.values()), now, summary)
        if summary.planned or summary.errors:
            log.info(
                "tick: %d pairs read%s, %d due, %d queued, %d in flight on the bus, "
                "%d duplicates, %d busy, %d failed to publish",
                summary.candidates,
                " (every pair)" if every_pair else "",
                summary.planned,
                summary.accepted,
                summary.in_flight,
                summary.duplicates,
                summary.busy,
                summary.errors,
            )
        return summary.accepted

    def use_policies(self, policies: Mapping[Family, WindowPolicy]) -> None:
        """Poll by new policies (a new budget plan); when a cadence moved, the next tick reads
        every pair so that their stored due times follow."""
        if dict(policies) != dict(self._policies):
            self._policies = dict(policies)
            self.plan_every_pair_next_tick()

    def plan_every_pair_next_tick(self) -> None:
        """Make the next tick read every pair (as a new leader's first tick does)."""
        self._offset = None

    def _needs_full_plan(self, now: datetime, db_now: datetime) -> bool:
        if self._offset is None or self._full_plan_at is None:
            return True
        if abs((now - db_now) - self._offset) > CLOCK_JUMP:
            return True
        return db_now - self._full_plan_at >= self._full_plan_every

    @property
    def is_leader(self) -> bool:
        return self._lease.held

    async def release_leadership(self) -> None:
        """Hand the lease over at once (on shutdown) instead of after its TTL."""
        await self._lease.release()

    async def _dispatch(
        self, planned: Sequence[PlannedWindow], now: datetime, summary: TickSummary
    ) -> None:
        # One transaction around the publish (docs/adr/0011-fencing.md): the pairs' fence rows
        # stay locked from taking the fences until the runs are recorded as their newest, so
        # no page of an older run commits in between; a window JetStream refuses records
        # nothing. The tick's windows go out together and their acks are awaited together.
        async with self._sessions() as session, session.begin():
            sync = SyncRepository(session)
            fences = await sync.take_fences([(p.account_id, p.family) for p in planned])
            # The last committed run of each fenced pair: final once its fence row is held.
            committed = await sync.committed_runs(list(fences))
            # A pair whose page is being written right now has no fence: next tick.
            commands = [
                window_command(
                    p,
                    now,
                    fence=fences[(p.account_id, str(p.family))],
                    committed_run=committed.get((p.account_id, str(p.family))),
                )
                for p in planned
                if (p.account_id, str(p.family)) in fences
            ]
            summary.busy = len(planned) - len(commands)
            outcomes = await self._publish(commands) if commands else []
            accepted = []
            for command, outcome in zip(commands, outcomes, strict=True):
                if outcome is PublishOutcome.ACCEPTED:
                    accepted.append(command)
                    WINDOWS_PUBLISHED.labels(command.family, command.trigger).inc()
                    log.debug(
                        "queued %s window %s..%s for account %s (run %s, fence %s)",
                        command.family,
                        command.window_from,
                        command.window_to,
                        command.account_id,
                        command.run_id,
                        command.fence,
                    )
                elif outcome is PublishOutcome.IN_FLIGHT:
                    summary.in_flight += 1
                elif outcome is PublishOutcome.DUPLICATE:
                    summary.duplicates += 1
                else:
                    # Unknown whether JetStream stored it: not recorded; if it was, its pages
                    # carry a newer fence and the writer supersedes as record_queued would.
                    summary.errors += 1
                    log.warning("window %s not published: %r", command.subject, outcome)
            await sync.record_queued_many(accepted, self._stale_after)
        summary.accepted = len(accepted)


def _moved(stored: datetime | None, due: datetime | None, now: datetime, db_now: datetime) -> bool:
    """Whether a pair's stored due time (database clock) differs from the one just planned."""
    if stored is None or due is None:
        return True
    return abs(stored - (db_now + (due - now))) > CLOCK_JUMP


async def record_backlog(js: JetStreamContext) -> None:
    """Publish the durable consumers' backlog as gauges (what autoscaling also looks at)."""
    for stream, durable in ((WINDOWS_STREAM, FETCHER_DURABLE), (PAGES_STREAM, WRITER_DURABLE)):
        info = await js.consumer_info(stream, durable)
        CONSUMER_PENDING.labels(stream, durable).set(info.num_pending + info.num_ack_pending)
