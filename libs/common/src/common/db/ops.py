"""Operations tables: account health checks and the registry of background jobs.

``background_jobs`` is the one place every periodic job is registered: its owner service
inserts the row at start (interval from its settings), operators enable, disable or ask for a
run through the admin API, and the owner's replicas claim due runs from it with one atomic
``UPDATE … RETURNING`` each, so a run happens once across replicas and a switch flipped on
one replica holds on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnClause,
    Float,
    ForeignKey,
    Index,
    Integer,
    delete,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base

ONE_SECOND: ColumnClause[Any] = literal_column("interval '1 second'")


class HealthEvent(Base):
    """One Identity ``getUser`` call made to check that an account still works at eBay."""

    __tablename__ = "ebay_health_events"
    # The account page: an account's latest checks first.
    __table_args__ = (Index("ix_ebay_health_events_account", "account_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ebay_accounts.id"))
    checked_at: Mapped[datetime]
    ok: Mapped[bool]
    http_status: Mapped[int | None] = mapped_column(Integer)
    # eBay's error id and message, or the transport error; never a token.
    error: Mapped[str | None]
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    # The eBay username the token belongs to, as getUser answered it.
    username: Mapped[str | None]


class BackgroundJob(Base):
    __tablename__ = "background_jobs"

    name: Mapped[str] = mapped_column(primary_key=True)
    service: Mapped[str]
    interval_seconds: Mapped[float] = mapped_column(Float)
    enabled: Mapped[bool]
    next_run_at: Mapped[datetime]
    # Set by "run now": the next claim runs the job even before next_run_at.
    run_requested_at: Mapped[datetime | None]
    running_since: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_ok: Mapped[bool | None]
    last_result: Mapped[str | None]
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class HealthCheck:
    account_id: int
    checked_at: datetime
    ok: bool
    http_status: int | None
    error: str | None
    latency_ms: int | None
    username: str | None


class HealthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, check: HealthCheck) -> None:
        # A check's fields are the event's columns.
        self.session.add(HealthEvent(**asdict(check)))

    async def purge(self, before: datetime) -> int:
        """Drop the checks older than ``before`` (all accounts); answers how many."""
        result = await self.session.execute(
            delete(HealthEvent).where(HealthEvent.checked_at < before).returning(HealthEvent.id)
        )
        return len(result.all())

    async def latest(self, account_id: int, limit: int = 50) -> list[HealthEvent]:
        result = await self.session.scalars(
            select(HealthEvent)
            .where(HealthEvent.account_id == account_id)
            .order_by(HealthEvent.checked_at.desc(), HealthEvent.id.desc())
            .limit(limit)
        )
        return list(result.all())


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def register(
        self, name: str, service: str, interval: timedelta, first_run_at: datetime
    ) -> None:
        """Insert the job (enabled, first due then) or take the interval from the owner's
        settings; the operators' switch, the next run and the history stay."""
        stmt = insert(BackgroundJob).values(
            name=name,
            service=service,
            interval_seconds=interval.total_seconds(),
            enabled=True,
            next_run_at=first_run_at,
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[BackgroundJob.name],
                set_={
                    "service": stmt.excluded.service,
                    "interval_seconds": stmt.excluded.interval_seconds,
                },
            )
        )

    async def list(self) -> Sequence[BackgroundJob]:
        result = await self.session.scalars(select(BackgroundJob).order_by(BackgroundJob.name))
        return result.all()

    async def get(self, name: str) -> BackgroundJob | None:
        return await self.session.get(BackgroundJob, name, populate_existing=True)

    async def set_enabled(self, name: str, enabled: bool) -> bool:
        return await self._set(name, enabled=enabled)

    async def request_run(self, name: str, now: datetime) -> bool:
        return await self._set(name, run_requested_at=now)

    async def _set(self, name: str, **values: object) -> bool:
        """Whether the job exists; if it does, ``values`` are set on it."""
        result = await self.session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.name == name)
            .values(**values)
            .returning(BackgroundJob.name)
        )
        return result.first() is not None

    async def claim(self, name: str, now: datetime, stuck_after: timedelta) -> bool:
        """Take the job's due run: True for exactly one caller across replicas.

        Due means enabled and either asked for ("run now") or past ``next_run_at``, and not
        running elsewhere (a run older than ``stuck_after`` counts as crashed). The update
        moves ``next_run_at`` on, so a concurrent claim re-checks the row and finds it not due.
        """
        result = await self.session.execute(
            update(BackgroundJob)
            .where(
                BackgroundJob.name == name,
                BackgroundJob.enabled,
                or_(
                    BackgroundJob.run_requested_at.is_not(None),
                    BackgroundJob.next_run_at <= now,
                ),
                or_(
                    BackgroundJob.running_since.is_(None),
                    BackgroundJob.running_since < now - stuck_after,
                ),
            )
            .values(
                running_since=now,
                run_requested_at=None,
                next_run_at=now + BackgroundJob.interval_seconds * ONE_SECOND,
            )
            .returning(BackgroundJob.name)
        )
        return result.first() is not None

    async def finish(
        self, name: str, started_at: datetime, ok: bool, result: str, duration_ms: int
    ) -> None:
        await self.session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.name == name)
            .values(
                running_since=None,
                last_run_at=started_at,
                last_ok=ok,
                last_result=result[:1000],
                last_duration_ms=duration_ms,
            )
        )
