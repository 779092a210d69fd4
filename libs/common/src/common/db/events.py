"""Change history of every mirrored entity. Written only by the writer, inside its upserts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ARRAY, Index, Integer, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base


class EbayEvent(Base):
    __tablename__ = "ebay_events"
    __table_args__ = (
        Index("ix_ebay_events_entity", "account_id", "family", "entity_id", "occurred_at"),
        Index("ix_ebay_events_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int]
    family: Mapped[str]
    entity_id: Mapped[str]
    change_kind: Mapped[str]  # created | changed | ended
    changed_fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    run_id: Mapped[UUID]
    page_no: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime]


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
