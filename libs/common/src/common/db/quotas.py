"""The application's call quotas as eBay last reported them (Developer Analytics getRateLimits).

Written daily by the token service (it holds the application credentials), read by whoever plans
the budget. One row per application (the keyset's client id), replaced by each reading; a
failed reading replaces it too, so the planner sees the failure and says it fell back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from common.budget import QuotaReading
from common.db.base import Base
from common.ledger import DailyQuotas
from common.quotas import StoredReading, quota_readings


class ApiQuotaReading(Base):
    __tablename__ = "api_quota_readings"

    application: Mapped[str] = mapped_column(primary_key=True)
    read_at: Mapped[datetime]
    ok: Mapped[bool]
    # Why the reading failed (no secret: the error's text only).
    detail: Mapped[str | None]
    # eBay's answer as sent: {"rateLimits": [...]} (validated when planned with, common.quotas).
    body: Mapped[dict[str, Any]]


class QuotaReadingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def store(self, application: str, reading: StoredReading) -> None:
        values = {
            "application": application,
            "read_at": reading.read_at,
            "ok": reading.ok,
            "detail": reading.detail,
            "body": {"rateLimits": list(reading.rate_limits)},
        }
        stmt = insert(ApiQuotaReading).values(**values)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ApiQuotaReading.application],
                set_={k: v for k, v in values.items() if k != "application"},
            )
        )

    async def latest(self, application: str | None = None) -> StoredReading | None:
        """The application's reading (any application's newest when not named)."""
        query = select(ApiQuotaReading).order_by(ApiQuotaReading.read_at.desc()).limit(1)
        if application is not None:
            query = query.where(ApiQuotaReading.application == application)
        row = (await self.session.scalars(query)).first()
        if row is None:
            return None
        limits = row.body.get("rateLimits")
        return StoredReading(
            read_at=row.read_at,
            ok=row.ok,
            rate_limits=limits if isinstance(limits, list) else [],
            detail=row.detail,
        )


class StoredQuotas:
    """The planner's quota input (scheduler.budget's ``read_quotas``): the newest stored reading
    of any application, read for the planner. One deployment reads one keyset's limits (the
    token service's ``EBAY_*``); the call ledger counts all of its calls against them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], configured: DailyQuotas) -> None:
        self._sessions = sessions
        self._configured = configured

    async def __call__(self) -> tuple[list[QuotaReading], list[str]]:
        async with self._sessions() as session:
            stored = await QuotaReadingRepository(session).latest()
        return quota_readings(stored, self._configured)
