"""A REST NEW_MESSAGE names a Message API id that no Trading call is known to take: its window
re-reads a short span before the event (no targets), still trigger ``notification`` so no
cursor moves; Trading message events keep their MessageIDs (scheduler.notifications)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.push import ReceivedNotification
from common.families import Family
from common.messages import NotificationReceived, SyncWindow, Trigger
from common.push import SPAN_TOPICS
from common.streams import WINDOWS_STREAM
from scheduler.notifications import MAX_SPAN, NotificationIntake, span_start
from scheduler.service import window_publisher
from testkit.factories import create_account

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(topic: str, event: datetime | None, received: datetime = NOW) -> ReceivedNotification:
    return ReceivedNotification(
        source="rest",
        notification_id="n",
        topic=topic,
        targets=["m"],
        event_date=event,
        received_at=received,
    )


def test_a_span_starts_the_topics_margin_before_its_earliest_event_at_most_max_span_back() -> None:
    margin = SPAN_TOPICS["NEW_MESSAGE"]
    assert span_start([row("MyMessagesM2MMessage", NOW)], NOW) is None, "Trading ids are read"
    early, late = NOW - timedelta(minutes=30), NOW - timedelta(minutes=1)
    rows = [row("NEW_MESSAGE", late), row("MyMessagesM2MMessage", NOW), row("NEW_MESSAGE", early)]
    assert span_start(rows, NOW) == early - margin
    # No event date: the time it was received.
    assert span_start([row("NEW_MESSAGE", None, late)], NOW) == late - margin
    assert span_start([row("NEW_MESSAGE", NOW - 10 * MAX_SPAN)], NOW) == NOW - MAX_SPAN


@pytest.mark.nats
@pytest.mark.postgres
async def test_a_new_message_notification_queues_a_span_window(
    broker: NatsBroker, js: JetStreamContext, sessions: async_sessionmaker[AsyncSession]
) -> None:
    username = f"seller-{uuid.uuid4().hex[:8]}"
    async with sessions.begin() as session:
        account = await create_account(session, username=username)
    now = datetime.now(UTC)
    intake = NotificationIntake(
        sessions,
        window_publisher(broker, timeout=10),
        lambda: now,
        publish_windows=True,
        stale_after=timedelta(minutes=30),
        recheck_seconds=3600.0,
    )
    event = now - timedelta(minutes=3)
    note = NotificationReceived(
        notification_id=str(uuid.uuid4()),
        source="rest",
        topic="NEW_MESSAGE",
        username=username,
        family=Family.MESSAGES,
        targets=["5498562796019"],
        event_date=event,
        received_at=now,
    )
    assert await intake.receive(note) == 1
    subject = f"{SyncWindow.SUBJECT_PREFIX}.messages.{account.id}"
    raw = await js.get_last_msg(WINDOWS_STREAM, subject)
    assert raw.data is not None and raw.seq is not None
    window = SyncWindow.model_validate_json(raw.data)
    await js.delete_msg(WINDOWS_STREAM, raw.seq)
    assert window.trigger is Trigger.NOTIFICATION
    assert window.targets is None
    assert window.window_from == event - SPAN_TOPICS["NEW_MESSAGE"]
    assert window.window_to == now
