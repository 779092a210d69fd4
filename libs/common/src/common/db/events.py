"""Change history of every mirrored entity. Written only by the writer, inside its upserts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import ARRAY, Index, Integer, Text, literal, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base


class EbayEvent(Base):
    __tablename__ = "ebay_events"
    __table_args__ = (
        Index("ix_ebay_events_entity", "account_id", "family", "entity_id", "occurred_at"),
        Index("ix_ebay_events_run", "run_id"),
        Index("ix_ebay_events_account_id", "account_id", "id"),
        Index("ix_ebay_events_topic", "topic", "id", postgresql_where=text("topic IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int]
    family: Mapped[str]
    entity_id: Mapped[str]
    change_kind: Mapped[str]  # created | changed | ended
    changed_fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Per changed top-level field, {"old": …, "new": …}; None for a created entity.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # A business event's name (common.db.topics), on the change that raised it.
    topic: Mapped[str | None]
    run_id: Mapped[UUID]
    page_no: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime]


@dataclass(frozen=True)
class EventPosition:
    """Where a page of the inbox ends: the keyset to continue after."""

    occurred_at: datetime
    id: int


@dataclass(frozen=True)
class EventQuery:
    """Filters of the event inbox (all optional), its order and the page of it to return."""

    families: Sequence[str] = ()
    entity_id: str | None = None
    change_kinds: Sequence[str] = ()
    topics: Sequence[str] = ()
    # Only business events (any topic).
    with_topic: bool = False
    since: datetime | None = None
    until: datetime | None = None
    order: Literal["newest", "oldest"] = "newest"
    after: EventPosition | None = None
    limit: int = 50


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_entity(self, account_id: int, family: str, entity_id: str) -> Sequence[EbayEvent]:
        result = await self.session.scalars(
            select(EbayEvent)
            .where(
                EbayEvent.account_id == account_id,
                EbayEvent.family == family,
                EbayEvent.entity_id == entity_id,
            )
            .order_by(EbayEvent.id)
        )
        return result.all()

    async def get(self, event_id: int) -> EbayEvent | None:
        return await self.session.get(EbayEvent, event_id)

    async def search(self, account_ids: Sequence[int], query: EventQuery) -> list[EbayEvent]:
        """Events of the given accounts, filtered, in (occurred_at, id) order: keyset paging,
        so a page stays right while the writer appends events."""
        stmt = select(EbayEvent).where(EbayEvent.account_id.in_(list(account_ids)))
        if query.families:
            stmt = stmt.where(EbayEvent.family.in_(list(query.families)))
        if query.entity_id is not None:
            stmt = stmt.where(EbayEvent.entity_id == query.entity_id)
        if query.change_kinds:
            stmt = stmt.where(EbayEvent.change_kind.in_(list(query.change_kinds)))
        if query.topics:
            stmt = stmt.where(EbayEvent.topic.in_(list(query.topics)))
        if query.with_topic:
            stmt = stmt.where(EbayEvent.topic.is_not(None))
        if query.since is not None:
            stmt = stmt.where(EbayEvent.occurred_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(EbayEvent.occurred_at < query.until)
        position = tuple_(EbayEvent.occurred_at, EbayEvent.id)
        if query.after is not None:
            after = tuple_(literal(query.after.occurred_at), literal(query.after.id))
            stmt = stmt.where(position < after if query.order == "newest" else position > after)
        if query.order == "newest":
            stmt = stmt.order_by(EbayEvent.occurred_at.desc(), EbayEvent.id.desc())
        else:
            stmt = stmt.order_by(EbayEvent.occurred_at, EbayEvent.id)
        return list((await self.session.scalars(stmt.limit(query.limit))).all())
