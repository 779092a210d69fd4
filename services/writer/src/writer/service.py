"""Writes one page batch in one transaction and completes its run when it is the last one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.postorder import upsert_details
from common.db.runlog import LogKind, LogLine, RunLogRepository
from common.db.sync import PageCounts, RunStatus, SyncRepository
from common.db.upsert import (
    UpsertSpec,
    end_named,
    end_unseen,
    record_seen,
    replace_children,
    upsert_rows,
)
from common.families import DETAIL_KEY, ENDED_KEY
from common.fencing import STALE_FENCE, FenceVerdict, judge_fence
from common.messages import PageBatch, Trigger, WindowCompleted
from writer.domain import MalformedRecordError, Row
from writer.families import FAMILY_TABLES, FamilyTable
from writer.validation import RefusedPageError, account_refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteResult:
    duplicate: bool
    counts: PageCounts | None = None
    completed: WindowCompleted | None = None


class UnsupportedFamilyError(ValueError):
    pass


class StalePageError(UnsupportedFamilyError):
    """A page of a run its pair has fenced off (docs/adr/0011-fencing.md): dead-lettered, like
    a page no writer can take, and never written."""

    def __init__(self, page: PageBatch, pair_fence: int) -> None:
        super().__init__(
            f"{STALE_FENCE}: run {page.run_id} has fence {page.fence}, "
            f"its pair's newest run {pair_fence}"
        )


WRITER = "writer"
# A completed run's page changes nothing more about the run; a cancelled one never completes.
FINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.CANCELLED})


def notes_of(page: PageBatch) -> list[LogLine]:
    """The fetcher's notes on a page as lines of the run's log, at the time they were made."""
    return [
        LogLine(
            "fetcher", LogKind(note.kind), note.message, page.page_no, note.ebay_request_id, note.at
        )
        for note in page.notes
    ]


def page_line(page: PageBatch, counts: PageCounts) -> LogLine:
    of = f" of {page.page_count}" if page.page_count is not None else ""
    text = (
        f"page {page.page_no}{of}: {counts.records} records ({counts.inserted} created, "
        f"{counts.changed} changed, {counts.unchanged} unchanged)"
    )
    return LogLine(WRITER, LogKind.PAGE, text, page.page_no)


def split_detail(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A record as its summary (what the mirror's row holds) and its detail call's answer."""
    detail = record.get(DETAIL_KEY)
    if detail is None:
        return record, None
    if not isinstance(detail, dict):
        raise MalformedRecordError(f"{DETAIL_KEY} is not an object")
    return {k: v for k, v in record.items() if k != DETAIL_KEY}, detail


def split_ended(record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A record without its ended mark, and whether eBay reported the entity ended (a
    targeted window's listing: common.families.ENDED_KEY)."""
    if ENDED_KEY not in record:
        return record, False
    return {k: v for k, v in record.items() if k != ENDED_KEY}, record[ENDED_KEY] is True


def cursor_text(cursor: datetime | None) -> str:
    return cursor.isoformat() if cursor is not None else "none (snapshot)"


class PageWriter:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def write(self, page: PageBatch, trace_id: str | None) -> WriteResult:
        """Upsert the page's rows, its receipt, the run's progress and — last — the cursor.

        All in one transaction: a crash anywhere leaves nothing half-written, and a redelivered
        page finds its receipt and changes nothing. The account and the pair's fence are checked
        first, by one statement that takes the pair's row lock: a page of an unknown or
        deactivated account raises :class:`writer.validation.RefusedPageError`, a page of a
        superseded run :class:`StalePageError`; both write nothing, so they can neither
        overwrite newer data nor end rows. An empty page costs three statements (the lock, its
        receipt with the run's progress, the run log) and, when it completes its window, one
        more (the run and the cursor).
        """
        now = self._clock()
        table = FAMILY_TABLES.get(page.family)
        if table is None:
            raise UnsupportedFamilyError(f"no writer for family {page.family}")
        async with self._sessions.begin() as session:
            sync = SyncRepository(session)
            pair = await sync.lock_page_pair(page.account_id, page.family)
            refused = account_refusal(
                page.account_id, None if pair is None else pair.account_active
            )
            if refused is not None or pair is None:
                raise RefusedPageError(refused or f"account {page.account_id} does not exist")
            verdict = judge_fence(page.fence, pair.fence)
            if verdict is FenceVerdict.STALE:
                if await sync.has_page(page.run_id, page.page_no):
                    return WriteResult(duplicate=True)
                raise StalePageError(page, pair.fence)
            if verdict is FenceVerdict.NEWER:
                await sync.advance_fence(page)
            if not page.records:
                # The common page of a caught-up window: its receipt and the run's progress in
                # one statement, and no upsert at all.
                counts = PageCounts(records=0, inserted=0, changed=0)
                claimed = await sync.claim_empty_page(
                    page,
                    page.page_no,
                    page.page_count,
                    trace_id,
                    snapshot_complete=page.snapshot_complete,
                )
                if claimed is None:
                    return WriteResult(duplicate=True)
                progress = claimed
            else:
                if not await sync.claim_page(page, page.page_no, trace_id):
                    return WriteResult(duplicate=True)
                counts = await self._upsert(session, table, page, now)
                progress = await sync.record_page(
                    page.run_id,
                    page.page_no,
                    counts,
                    page.page_count,
                    trace_id,
                    snapshot_complete=page.snapshot_complete,
                )
            log_lines = [*notes_of(page), page_line(page, counts)]
            completed = None
            # A cancelled run keeps what it wrote but never moves the cursor.
            if progress.is_complete and progress.status not in FINAL_STATUSES:
                spec = table.spec
                targeted = page.trigger is Trigger.NOTIFICATION
                if spec.snapshot and not targeted:
                    ended = await end_unseen(
                        session,
                        spec,
                        account_id=page.account_id,
                        run_id=page.run_id,
                        now=now,
                        complete=bool(progress.snapshot_complete),
                    )
                    if ended:
                        log.info(
                            "run %s ended %s rows no longer in the snapshot", page.run_id, ended
                        )
                # A targeted window read ids, not a span: the cursor stays with polling.
                if targeted:
                    cursor = await sync.complete_targeted_run(page)
                else:
                    cursor = await sync.complete_run(page)
                completed = WindowCompleted(
                    run_id=page.run_id,
                    account_id=page.account_id,
                    family=page.family,
                    cursor=cursor,
                    completed_at=now,
                )
                done = f"done: {progress.pages_written} pages; cursor {cursor_text(cursor)}"
                log_lines.append(LogLine(WRITER, LogKind.DONE, done))
            await RunLogRepository(session).add(page.run_id, log_lines)
        return WriteResult(duplicate=False, counts=counts, completed=completed)

    async def _upsert(
        self, session: AsyncSession, table: FamilyTable, page: PageBatch, now: datetime
    ) -> PageCounts:
        rows: list[Row] = []
        child_rows: dict[UpsertSpec, list[Row]] = {spec: [] for spec in table.child_specs}
        details: dict[str, dict[str, Any]] = {}
        ended: list[str] = []
        entity = table.spec.entity_column
        for record in page.records:
            raw, detail = split_detail(record)
            raw, is_ended = split_ended(raw)
            mapped = table.map_record(page.account_id, raw)
            if is_ended and table.spec.snapshot and entity is not None:
                ended.append(str(mapped.row[entity]))  # ended, not stored as live
                continue
            rows.append(mapped.row)
            if detail is not None and table.spec.entity_column is not None:
                details[str(mapped.row[table.spec.entity_column])] = detail
            for spec, children in mapped.children.items():
                child_rows[spec].extend(children)
        outcome = await upsert_rows(
            session, table.spec, rows, run_id=page.run_id, page_no=page.page_no, now=now
        )
        for spec in table.child_specs:
            await replace_children(
                session,
                spec,
                [spec.parent_of(row) for row in rows],
                child_rows[spec],
                run_id=page.run_id,
                page_no=page.page_no,
                now=now,
            )
        await upsert_details(
            session, page.family, page.account_id, details, run_id=page.run_id, now=now
        )
        ended_count = 0
        if table.spec.snapshot and page.trigger is Trigger.NOTIFICATION:
            # A targeted page sweeps nothing, so it notes nothing as seen; what eBay reported
            # ended is ended here, one by one, as the sweep would have.
            ended_count = await end_named(
                session,
                table.spec,
                ended,
                account_id=page.account_id,
                run_id=page.run_id,
                now=now,
            )
        elif table.spec.snapshot:
            await record_seen(session, table.spec, rows, page.run_id)
        return PageCounts(
            records=outcome.received + len(ended),
            inserted=outcome.inserted,
            changed=outcome.changed + ended_count,
        )
