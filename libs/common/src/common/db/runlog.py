"""The run log: what happened to one run, line by line, for the operator's run page.

Lines come from whoever saw it happen: the fetcher's notes travel with the page they belong
to (its start, each retry with its reason and eBay's request id) and the writer stores them in
the page's transaction with the page's own line (its counts); the writer adds a run's errors
and its end; the admin API adds who cancelled it. Nothing here is read on the data path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base

# A line is for people: long texts (a whole eBay error body) are cut here.
MAX_LINE_CHARS = 2_000


class LogKind(StrEnum):
    START = "start"
    PAGE = "page"
    RETRY = "retry"
    ERROR = "error"
    CANCELLED = "cancelled"
    DONE = "done"


class SyncRunLog(Base):
    __tablename__ = "sync_run_log"
    __table_args__ = (Index("ix_sync_run_log_run", "run_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[UUID] = mapped_column(ForeignKey("sync_runs.run_id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    source: Mapped[str]  # fetcher | writer | admin-api
    kind: Mapped[str]
    message: Mapped[str]
    page_no: Mapped[int | None] = mapped_column(Integer)
    ebay_request_id: Mapped[str | None]


@dataclass(frozen=True)
class LogLine:
    """One line to add; ``at`` None: the database's clock at commit."""

    source: str
    kind: LogKind
    message: str
    page_no: int | None = None
    ebay_request_id: str | None = None
    at: datetime | None = None


# WITH ORDINALITY keeps the lines' order in their ids.
_ADD_LINES = text(
    """
    INSERT INTO sync_run_log (run_id, at, source, kind, message, page_no, ebay_request_id)
    SELECT :run_id, coalesce(l.at, clock_timestamp()), l.source, l.kind, l.message, l.page_no,
           l.ebay_request_id
    FROM unnest(CAST(:at AS timestamptz[]), CAST(:source AS text[]), CAST(:kind AS text[]),
                CAST(:message AS text[]), CAST(:page_no AS integer[]),
                CAST(:ebay_request_id AS text[]))
         WITH ORDINALITY AS l(at, source, kind, message, page_no, ebay_request_id, n)
    WHERE EXISTS (SELECT 1 FROM sync_runs WHERE run_id = :run_id)
    ORDER BY l.n
    """
)


class RunLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, run_id: UUID, lines: Sequence[LogLine]) -> None:
        """Append lines to the run's log, in the caller's transaction. A run the database does
        not know (yet) gets no lines: the log is for runs that exist."""
        if not lines:
            return
        # One statement whatever the number of lines (arrays, not an executemany).
        await self.session.execute(
            _ADD_LINES,
            {
                "run_id": run_id,
                "at": [line.at for line in lines],
                "source": [line.source for line in lines],
                "kind": [str(line.kind) for line in lines],
                "message": [line.message[:MAX_LINE_CHARS] for line in lines],
                "page_no": [line.page_no for line in lines],
                "ebay_request_id": [line.ebay_request_id for line in lines],
            },
        )

    async def lines(
        self, run_id: UUID, *, after_id: int = 0, limit: int = 1_000
    ) -> list[SyncRunLog]:
        """The run's lines after ``after_id``, oldest first (by the order they were added)."""
        found = await self.session.scalars(
            select(SyncRunLog)
            .where(SyncRunLog.run_id == run_id, SyncRunLog.id > after_id)
            .order_by(SyncRunLog.id)
            .limit(limit)
        )
        return list(found)
