"""The circuit breaker on PostgreSQL: failures pause a worker for longer and longer; a completed
run closes the breaker; the scheduler skips the worker while it is paused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.breaker import BreakerSettings
from common.db.sync import PairState, SyncRepository
from common.families import Family
from common.messages import SyncWindow, Trigger, WindowFailed
from common.settings import WindowSettings
from scheduler.domain import plan_pair
from testkit.factories import create_account
from writer.deadletters import FailureRecorder

pytestmark = [pytest.mark.postgres]

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BREAKER = BreakerSettings(threshold=2, base_seconds=30, cap_seconds=100)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def failed_attempt(account_id: int, attempt: int) -> WindowFailed:
    return WindowFailed(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        attempt=attempt,
        error="EbayTransientError: HTTP 500",
        failed_at=T0,
    )


async def pair(
    sessions: async_sessionmaker[AsyncSession], account_id: int, now: datetime
) -> PairState:
    async with sessions() as session:
        states = await SyncRepository(session).pair_states(
            [Family.ORDERS], now, timedelta(minutes=30)
        )
    [state] = [s for s in states if s.account_id == account_id]
    return state


async def test_the_breaker_opens_with_growing_pauses_and_a_success_closes_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        account_id = (await create_account(session)).id
    clock = Clock()
    recorder = FailureRecorder(sessions, clock, BREAKER)

    pauses: list[timedelta | None] = []
    for attempt in range(1, 6):
        clock.now = T0 + timedelta(minutes=attempt)
        await recorder.attempt_failed(failed_attempt(account_id, attempt))
        state = await pair(sessions, account_id, clock.now)
        # Paused on the database clock and rebased onto ours: whole seconds, less what the
        # statements in between took.
        left = None if state.paused_until is None else state.paused_until - clock.now
        pauses.append(None if left is None else timedelta(seconds=round(left.total_seconds())))
    # Below the threshold nothing; then 30 s doubling per failure, capped at 100 s.
    assert pauses == [None, *(timedelta(seconds=s) for s in (30, 60, 100, 100))]
    async with sessions() as session:
        stored = await SyncRepository(session).get_state(account_id, Family.ORDERS)
    assert stored is not None and stored.consecutive_failures == 5
    assert stored.last_error == "attempt 5: EbayTransientError: HTTP 500"

    # A success closes the breaker: no pause, no streak, no error.
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        window_from=T0 - timedelta(hours=1),
        window_to=T0,
        trigger=Trigger.SCHEDULE,
        issued_at=T0,
    )
    async with sessions.begin() as session:
        await SyncRepository(session).complete_run(window)
    async with sessions() as session:
        closed = await SyncRepository(session).get_state(account_id, Family.ORDERS)
    assert closed is not None and closed.paused_until is None
    assert closed.consecutive_failures == 0 and closed.last_error is None
    # The next failure starts a new streak below the threshold.
    await recorder.attempt_failed(failed_attempt(account_id, 1))
    assert (await pair(sessions, account_id, clock.now)).paused_until is None


async def test_a_paused_worker_is_not_scheduled_until_its_pause_ends(
    sessions: async_sessionmaker[AsyncSession],
) -> None:

    async with sessions.begin() as session:
        account_id = (await create_account(session)).id
    clock = Clock()
    recorder = FailureRecorder(sessions, clock, BREAKER)
    for attempt in (1, 2):
        await recorder.attempt_failed(failed_attempt(account_id, attempt))
    policy = WindowSettings().policy(Family.ORDERS)
    paused = await pair(sessions, account_id, T0)
    assert plan_pair(paused, T0, policy) is None
    assert plan_pair(paused, T0 + timedelta(seconds=31), policy) is not None
