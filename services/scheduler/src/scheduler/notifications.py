"""eBay's notifications into targeted windows (docs/adr/0018-push-notifications.md).

Each ``NotificationReceived`` is recorded once per account in ``ebay_notifications`` (the
durable dedup and the pending set); then every pair with pending ids gets one targeted window
carrying them, through the same publish and one-window-per-pair rule as polling. A pair in
flight refuses the window: its ids stay pending and go with the next one (coalesced, not lost).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository, EbayAccount
from common.db.push import NotificationRepository
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import MAX_TARGETS, NotificationReceived, SyncWindow, Trigger
from common.scheduling import PublishOutcome
from scheduler.service import PublishWindows

log = logging.getLogger(__name__)


def targeted_window(
    account_id: int, family: Family, targets: list[str], now: datetime, *, fence: int
) -> SyncWindow:
    """The command that re-reads just ``targets``: no time range (``window_from`` None), so it
    never moves the pair's cursor."""
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=family,
        window_from=None,
        window_to=now,
        trigger=Trigger.NOTIFICATION,
        issued_at=now,
        fence=fence,
        targets=targets,
    )


class NotificationIntake:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: PublishWindows,
        clock: Callable[[], datetime],
        *,
        publish_windows: bool,
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._clock = clock
        # Off until the fetcher and writer understand targeted windows (ADR 0018, "State").
        self._publish_windows = publish_windows

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
        if account is None or event.family is None or not event.targets:
            return 0
        return await self.flush(account.id, event.family)

    async def flush_pending(self) -> int:
        """A targeted window for every pair with pending ids (each tick, and on completion)."""
        async with self._sessions() as session:
            pairs = await NotificationRepository(session).pending_pairs()
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
            taken: list[int] = []
            for row in pending:
                new = [t for t in row.targets if t not in targets]
                if len(targets) + len(new) > MAX_TARGETS:
                    break  # the rest go with the next window
                targets += new
                taken.append(row.id)
            if not taken:
                return 0
            sync = SyncRepository(session)
            fence = await sync.take_fence(account_id, family)
            if fence is None:
                return 0  # a page of the pair is being written: next tick
            command = targeted_window(account_id, family, targets, now, fence=fence)
            (outcome,) = await self._publish([command])
            if isinstance(outcome, Exception):
                raise outcome
            if outcome is not PublishOutcome.ACCEPTED:
                await transaction.rollback()
                return 0  # the pair is in flight: the ids stay pending
            await notes.mark_windowed(taken, now)
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
