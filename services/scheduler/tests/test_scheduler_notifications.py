"""Notifications into targeted windows: recorded once, coalesced while the pair is in flight,
never lost (scheduler.notifications; docs/adr/0018-push-notifications.md)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.db.migrate import upgrade_async
from common.db.push import ReceivedNotification
from common.db.sync import SyncRepository, SyncRun
from common.families import Family
from common.messages import NotificationReceived, SyncWindow, Trigger
from common.streams import WINDOWS_STREAM
from scheduler.notifications import NotificationIntake
from scheduler.service import window_publisher
from testkit.factories import create_account

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

STALE = timedelta(minutes=30)
# Never by the clock in these tests: only what the intake itself recorded makes it look.
RECHECK = 3600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def order_note(
    user_id: str, order_id: str, notification_id: str | None = None
) -> NotificationReceived:
    return NotificationReceived(
        notification_id=notification_id or str(uuid.uuid4()),
        source="rest",
        topic="ORDER_CONFIRMATION",
        ebay_user_id=user_id,
        family=Family.ORDERS,
        targets=[order_id],
        received_at=utc_now(),
    )


def new_intake(
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    *,
    publish_windows: bool = True,
    monotonic: Callable[[], float] = time.monotonic,
) -> NotificationIntake:
    return NotificationIntake(
        sessions,
        window_publisher(broker, timeout=10),
        utc_now,
        publish_windows=publish_windows,
        stale_after=STALE,
        recheck_seconds=RECHECK,
        monotonic=monotonic,
    )


async def held_window(js: JetStreamContext, account_id: int) -> tuple[int, SyncWindow] | None:
    subject = f"{SyncWindow.SUBJECT_PREFIX}.orders.{account_id}"
    info = await js.stream_info(WINDOWS_STREAM, subjects_filter=subject)
    count = (info.state.subjects or {}).get(subject, 0)
    assert count <= 1  # one window per pair, ever
    if count == 0:
        return None
    raw = await js.get_last_msg(WINDOWS_STREAM, subject)
    assert raw.data is not None and raw.seq is not None
    return raw.seq, SyncWindow.model_validate_json(raw.data)


async def run_done(sessions: async_sessionmaker[AsyncSession], window: SyncWindow) -> None:
    """The writer committed the window's last page: its run ends."""
    async with sessions.begin() as session:
        await SyncRepository(session).complete_targeted_run(window)


async def test_a_burst_of_1000_keeps_one_window_in_flight_and_loses_no_change(
    broker: NatsBroker, js: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    user_id = f"seller-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        account = await create_account(session, ebay_user_id=user_id)
    intake = new_intake(broker, sessions)
    orders = [f"27-{n:05d}-00001" for n in range(1000)]
    for order in orders:
        await intake.receive(order_note(user_id, order))
        assert (await held_window(js, account.id) or (0, None))[0] >= 0
    asked: set[str] = set()
    # The fetcher takes each window in turn (here: deletes it); the next tick sends the rest.
    for _ in range(100):
        held = await held_window(js, account.id)
        if held is None:
            if await intake.flush_pending() == 0:
                break
            continue
        seq, window = held
        assert window.trigger is Trigger.NOTIFICATION and window.window_from is None
        assert window.targets is not None and 0 < len(window.targets) <= 100
        asked |= set(window.targets)
        await js.delete_msg(WINDOWS_STREAM, seq)
        await run_done(sessions, window)
    assert asked == set(orders)


async def test_a_repeated_notification_is_recorded_once(
    broker: NatsBroker, js: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    user_id = f"seller-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        account = await create_account(session, ebay_user_id=user_id)
    intake = new_intake(broker, sessions)
    note = order_note(user_id, "27-99999-00001")
    assert await intake.receive(note) == 1
    assert await intake.receive(note) == 0
    async with sessions() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(ReceivedNotification)
            .where(ReceivedNotification.account_id == account.id)
        )
    assert rows == 1
    held = await held_window(js, account.id)
    assert held is not None and held[1].targets == ["27-99999-00001"]
    await js.delete_msg(WINDOWS_STREAM, held[0])


async def test_while_windows_are_off_notifications_are_only_recorded(
    broker: NatsBroker, js: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    user_id = f"seller-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        account = await create_account(session, ebay_user_id=user_id)
    intake = new_intake(broker, sessions, publish_windows=False)
    assert await intake.receive(order_note(user_id, "27-88888-00001")) == 0
    assert await held_window(js, account.id) is None


async def test_a_run_whose_window_was_fetched_holds_its_pair_until_the_writer_ends_it(
    broker: NatsBroker, js: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The fetcher acknowledges a window once its pages are published, which frees the subject
    while the writer still writes them. A notification then must wait: a window queued now
    would supersede the run, and its unwritten pages (and their changes) would be refused."""
    user_id = f"seller-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        account = await create_account(session, ebay_user_id=user_id)
    intake = new_intake(broker, sessions)
    assert await intake.receive(order_note(user_id, "27-00001-00001")) == 1
    held = await held_window(js, account.id)
    assert held is not None
    seq, first = held
    await js.delete_msg(WINDOWS_STREAM, seq)  # fetched; its pages wait for the writer
    assert await intake.receive(order_note(user_id, "27-00002-00001")) == 0
    assert await intake.flush(account.id, Family.ORDERS) == 0
    assert await held_window(js, account.id) is None
    async with sessions() as session:
        run = await session.get(SyncRun, first.run_id)
    assert run is not None and run.status == "queued", "the first run is not superseded"
    await run_done(sessions, first)
    assert await intake.flush(account.id, Family.ORDERS) == 1
    held = await held_window(js, account.id)
    assert held is not None and held[1].targets == ["27-00002-00001"]
    await js.delete_msg(WINDOWS_STREAM, held[0])
    await run_done(sessions, held[1])


async def test_ids_another_replica_could_not_send_wait_for_the_recheck_not_for_a_wake_up(
    broker: NatsBroker, js: JetStreamContext, fresh_database_url: str
) -> None:
    """Every completed window wakes the scheduler's loop: its look for pending ids runs when
    this intake recorded one or found some last time, else once per recheck interval."""
    await upgrade_async(fresh_database_url)  # its own database: no other test's pending ids
    engine = create_async_engine(fresh_database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        user_id = f"seller-{uuid.uuid4().hex[:8]}"
        async with sessions.begin() as session:
            account = await create_account(session, ebay_user_id=user_id)
        clock = [0.0]

        ours, other = (new_intake(broker, sessions, monotonic=lambda: clock[0]) for _ in range(2))
        assert await ours.flush_pending() == 0  # looked: nothing pending
        assert await other.receive(order_note(user_id, "27-00003-00001")) == 1
        held = await held_window(js, account.id)
        assert held is not None
        seq, first = held
        await js.delete_msg(WINDOWS_STREAM, seq)
        assert await other.receive(order_note(user_id, "27-00004-00001")) == 0  # pair busy
        await run_done(sessions, first)  # the pair is free, and the loop wakes
        assert await ours.flush_pending() == 0
        assert await held_window(js, account.id) is None, "looked again on a mere wake-up"
        clock[0] += RECHECK
        assert await ours.flush_pending() == 1
        held = await held_window(js, account.id)
        assert held is not None and held[1].targets == ["27-00004-00001"]
        await js.delete_msg(WINDOWS_STREAM, held[0])
        await run_done(sessions, held[1])
    finally:
        await engine.dispose()
