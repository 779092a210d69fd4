"""Push notifications: eBay subscriptions per account, and the notifications received.

``ebay_notifications`` is both the durable dedup (unique source + notification id, beyond
JetStream's dedup window) and the pending set of targeted ids: a row not yet ``windowed_at``
is a change no targeted window has asked for yet (docs/adr/0018-push-notifications.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, UniqueConstraint, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base


class PushSubscription(Base):
    """One eBay subscription ebaysync keeps: a REST topic (per seller, or the application's
    when ``account_id`` is None) or the Trading events of one seller."""

    __tablename__ = "push_subscriptions"
    # Application-scoped rows have no account: their NULLs collide too.
    __table_args__ = (
        UniqueConstraint(
            "account_id", "application", "api", "topic", postgresql_nulls_not_distinct=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("ebay_accounts.id", ondelete="CASCADE"), index=True
    )
    # The keyset's client id (eBay keeps subscriptions per application).
    application: Mapped[str] = mapped_column(server_default="")
    # "rest" (createSubscription) or "trading" (SetNotificationPreferences).
    api: Mapped[str]
    topic: Mapped[str]
    ebay_subscription_id: Mapped[str | None]
    destination_id: Mapped[str | None]
    # ENABLED / DISABLED (eBay's) or UNAVAILABLE (consent lacks a scope) / FAILED (ours).
    status: Mapped[str]
    detail: Mapped[str | None]
    checked_at: Mapped[datetime]
    # How often eBay's copy was found disabled or gone and put back, and when last.
    repairs: Mapped[int] = mapped_column(Integer, server_default="0")
    repaired_at: Mapped[datetime | None]


class PushDestination(Base):
    """The application's notification destination (one per keyset): where eBay POSTs."""

    __tablename__ = "push_destinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    application: Mapped[str] = mapped_column(unique=True)
    endpoint: Mapped[str]
    destination_id: Mapped[str | None]
    # ENABLED / DISABLED / MARKED_DOWN (eBay's) or FAILED (ours: createDestination refused).
    status: Mapped[str]
    detail: Mapped[str | None]
    checked_at: Mapped[datetime]


class ReceivedNotification(Base):
    """A verified notification, once (unique by source and eBay's notification id)."""

    __tablename__ = "ebay_notifications"
    __table_args__ = (UniqueConstraint("source", "notification_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str]
    notification_id: Mapped[str]
    topic: Mapped[str]
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("ebay_accounts.id", ondelete="CASCADE"), index=True
    )
    family: Mapped[str | None]
    targets: Mapped[list[str]] = mapped_column(JSONB)
    event_date: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(index=True)
    # When a targeted window asked for these targets; None: still pending.
    windowed_at: Mapped[datetime | None]


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, **row: Any) -> bool:
        """Store a notification; False when its id was seen before (a replay)."""
        inserted = await self._session.execute(
            insert(ReceivedNotification)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["source", "notification_id"])
            .returning(ReceivedNotification.id)
        )
        return inserted.scalar_one_or_none() is not None

    async def pending(self, account_id: int, family: str) -> Sequence[ReceivedNotification]:
        rows = await self._session.scalars(
            select(ReceivedNotification)
            .where(
                ReceivedNotification.account_id == account_id,
                ReceivedNotification.family == family,
                ReceivedNotification.windowed_at.is_(None),
            )
            .order_by(ReceivedNotification.id)
        )
        return rows.all()

    async def pending_pairs(self) -> Sequence[tuple[int, str]]:
        rows = await self._session.execute(
            select(ReceivedNotification.account_id, ReceivedNotification.family)
            .where(
                ReceivedNotification.windowed_at.is_(None),
                ReceivedNotification.account_id.is_not(None),
                ReceivedNotification.family.is_not(None),
            )
            .distinct()
        )
        return [(int(a), str(f)) for a, f in rows.all() if a is not None]

    async def mark_windowed(self, ids: Sequence[int], at: datetime) -> None:
        await self._session.execute(
            update(ReceivedNotification)
            .where(ReceivedNotification.id.in_(ids))
            .values(windowed_at=at)
        )

    async def counts(self, account_id: int) -> dict[str, tuple[int, datetime]]:
        """Per topic: how many notifications, and the last one's arrival."""
        rows = await self._session.execute(
            select(
                ReceivedNotification.topic,
                func.count(),
                func.max(ReceivedNotification.received_at),
            )
            .where(ReceivedNotification.account_id == account_id)
            .group_by(ReceivedNotification.topic)
        )
        return {str(t): (int(n), last) for t, n, last in rows.all()}
