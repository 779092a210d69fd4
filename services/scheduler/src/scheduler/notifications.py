"""eBay's notifications into targeted windows (docs/adr/0018-push-notifications.md).

Each ``NotificationReceived`` is recorded once per account in ``ebay_notifications`` (the
durable dedup and the pending set); then every pair with pending ids gets one targeted window
carrying them, through the same publish and one-window-per-pair rule as polling. A pair in
flight gets no window: its ids stay pending and go with the next one (coalesced, not lost).

In flight means what it means to polling: a run of the pair not ended by the writer yet
(``sync_runs``), not only a window held on JetStream. The fetcher acknowledges a window once it
published the pages, so its subject is free while the writer still has pages to write; a new
window then would supersede that run (its fence is older) and its remaining pages, with the
changes they carry, would be refused.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository, EbayAccount
from common.db.push import NotificationRepository, ReceivedNotification
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import MAX_TARGETS, NotificationReceived, SyncWindow, Trigger
from common.push import SPAN_TOPICS
from common.scheduling import PublishOutcome
from scheduler.service import PublishWindows

log = logging.getLogger(__name__)


# A span window (SPAN_TOPICS) never reaches further back than this, however long its
# notifications waited: older changes are the polling window's.
MAX_SPAN = timedelta(hours=6)


def span_start(
    rows: Sequence[ReceivedNotification], now: datetime, max_span: timedelta = MAX_SPAN
) -> datetime | None:
    """Where the window of ``rows`` starts when one of them names ids no call takes (a
    SPAN_TOPICS topic): its event's time less the topic's margin, the earliest of them, at
    most ``max_span`` back. None: every row names ids, the window re-reads just those."""
    starts = [
        (row.event_date or row.received_at) - SPAN_TOPICS[row.topic]
        for row in rows
        if row.topic in SPAN_TOPICS
    ]
    if not starts:
        return None
    return min(max(min(starts), now - max_span), now)


def targeted_window(
    account_id: int,
    family: Family,
    targets: list[str],
    now: datetime,
    *,
    fence: int,
    span_from: datetime | None = None,
    committed_run: uuid.UUID | None = None,
) -> SyncWindow:
    """The command that re-reads just ``targets``: no time range (``window_from`` None), so it
    never moves the pair's cursor. With ``span_from`` it re-reads ``[span_from, now]`` instead
    (no targets): still trigger ``notification``, so the writer leaves the cursor too."""
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=family,
        window_from=span_from,
        window_to=now,
        trigger=Trigger.NOTIFICATION,
        issued_at=now,
        fence=fence,
        targets=None if span_from is not None else targets,
        committed_run=committed_run,
    )


class NotificationIntake:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: PublishWindows,
        clock: Callable[[], datetime],
        *,
        publish_windows: bool,
        stale_after: timedelta,
        recheck_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        # A run that has not moved for this long no longer holds its pair (the scheduler's
        # SCHEDULER_STALE_RUN_SECONDS, as for polling).
        self._stale_after = stale_after
        self._publish = publish
        self._clock = clock
        # Off until the fetcher and writer understand targeted windows (ADR 0018, "State").
        self._publish_windows = publish_windows
        # flush_pending looks for pending ids while some may be there: this intake recorded
        # one since its last look, or that look found some. Otherwise at most once every
        # ``recheck_seconds`` (ids another replica recorded for a pair that was busy), not
        # on every wake-up of the scheduler's loop (every completed window wakes it).
        self._recheck_seconds = recheck_seconds
        self._monotonic = monotonic
        self._recorded = 0
        self._looked: tuple[float, int] | None = None  # when, and ``_recorded`` then

    async def receive(self, event: NotificationReceived) -> int:
        """Record the notification for its account; returns how many windows went out."""
        async with self._sessions.begin() as session:
            account = await _account_of(session, event)
            recorded = await NotificationRepository(session).record(
                source=event.source,
                notification_id=event.notification_id,
                topic=event.topic,
                account_id=account.id if account is not None else None,
                family=str(event.family) if event.family is not None else None,
                targets=list(event.targets),
                event_date=event.event_date,
                received_at=event.received_at,
            )
        if not recorded:
            log.info("notification %s recorded before: no effect", event.notification_id)
            return 0
        self._recorded += 1
        if account is None or event.family is None or not event.targets:
            return 0
        return await self.flush(account.id, event.family)

    async def flush_pending(self) -> int:
        """A targeted window for every pair with pending ids (each tick, and on completion),
        when some may be pending (see ``__init__``)."""
        now, recorded = self._monotonic(), self._recorded
        if (
            self._looked is not None
            and self._looked[1] == recorded
            and now - self._looked[0] < self._recheck_seconds
        ):
            return 0
        async with self._sessions() as session:
            pairs = await NotificationRepository(session).pending_pairs()
        # Found some: look again next time (their pairs may be busy still).
        self._looked = None if pairs else (now, recorded)
        sent = 0
        for account_id, family in pairs:
            sent += await self.flush(account_id, Family(family))
        return sent

    async def flush(self, account_id: int, family: Family) -> int:
        if not self._publish_windows:
            return 0
        now = self._clock()
        async with self._sessions() as session, session.begin() as transaction:
            notes = NotificationRepository(session)
            pending = await notes.pending(account_id, str(family))
            targets: list[str] = []
            taken: list[ReceivedNotification] = []
            for row in pending:
                new = [t for t in row.targets if t not in targets]
                if len(targets) + len(new) > MAX_TARGETS:
                    break  # the rest go with the next window
                targets += new
                taken.append(row)
            if not taken:
                return 0
            sync = SyncRepository(session)
            fence = await sync.take_fence(account_id, family)
            if fence is None:
                return 0  # a page of the pair is being written: next tick
            # Under the fence row's lock: no other window of the pair is queued meanwhile.
            if await sync.in_flight(account_id, family, self._stale_after):
                return 0  # its run's end (or the next tick) flushes the pending ids
            span_from = span_start(taken, now)
            committed = None
            if span_from is not None:
                # A span window may trust what the pair's last committed run saw (the
                # messages it read), as a polling window does: only new ones are read again.
                runs = await sync.committed_runs([(account_id, str(family))])
                committed = runs.get((account_id, str(family)))
            command = targeted_window(
                account_id,
                family,
                targets,
                now,
                fence=fence,
                span_from=span_from,
                committed_run=committed,
            )
            (outcome,) = await self._publish([command])
            if isinstance(outcome, Exception):
                raise outcome
            if outcome is not PublishOutcome.ACCEPTED:
                await transaction.rollback()
                return 0  # the pair is in flight: the ids stay pending
            await notes.mark_windowed([row.id for row in taken], now)
            await sync.record_queued(command)
        log.info(
            "queued a targeted %s window for account %s: %d ids", family, account_id, len(targets)
        )
        return 1


async def _account_of(session: AsyncSession, event: NotificationReceived) -> EbayAccount | None:
    """The active account the notification is for (eBay user id first, else username)."""
    accounts = AccountRepository(session)
    found: list[EbayAccount] = []
    if event.ebay_user_id:
        found = list(await accounts.find_by_ebay_user_id(event.ebay_user_id))
    if not found and event.username:
        found = list(await accounts.find_by_username(event.username))
    active = [a for a in found if a.active]
    return active[0] if active else None
