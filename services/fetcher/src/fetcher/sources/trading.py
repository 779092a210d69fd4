"""The Trading API (XML) families: messages, active listings (a snapshot) and purchases.

All three page by page number; the fetcher's offset is the number of entries already consumed,
so the page to ask for is ``offset // page_size + 1``. Should a page ever start before the offset
(an oversized page moved the offset off a page boundary), its entries before the offset are
skipped: they were published already.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.trading import (
    MAX_ENTRIES_PER_PAGE,
    MAX_MESSAGE_IDS,
    MAX_WON_DURATION_DAYS,
    ListPage,
    MessageSummary,
    TradingClient,
    active_listing_record,
)
from common.ebay.xml import Record
from common.families import Family, spec
from common.messages import SyncWindow
from fetcher.domain import PageShape
from fetcher.sources.base import PageRequest, SourcePage
from fetcher.sources.details import MemoryDigests
from fetcher.sources.marks import Mark, Marks, Published, trusts


def page_number(offset: int, page_size: int) -> int:
    """The 1-based page that holds entry ``offset``."""
    return offset // page_size + 1


def unseen(entries: list[Record], offset: int, page_no: int, page_size: int) -> list[Record]:
    """The entries of page ``page_no`` at or after ``offset``."""
    return entries[max(0, offset - (page_no - 1) * page_size) :]


def reaches_everything(total_entries: int, total_pages: int, page_size: int) -> bool:
    """Whether the pages GetMyeBaySelling offers can reach every entry it counts.

    It serves only the first 25,000 items (``TotalNumberOfPages`` stops at 125 at 200 per page)
    while ``TotalNumberOfEntries`` stays the true count: a snapshot of such an account misses
    items, so it must not end the listings it did not see.
    """
    return total_entries <= total_pages * page_size


# How long after arriving a message may still change (read, replied): days at eBay and in the
# sandbox.
MESSAGES_REFRESH = timedelta(days=7)
# The span a messages run checks starts at a multiple of this (UTC, since the epoch), so runs
# within one such period compare like with like; a new period reads the whole span again.
MESSAGES_FULL_READ = spec(Family.MESSAGES).cadences["recent"]


# A messages offset is a position in the folders of the seller, in ascending FolderID order:
# ``folder_id * FOLDER_STRIDE + entries of that folder already consumed``. Keyed by the id, not
# the folder's rank, so a folder created or deleted mid-window moves no other folder's position.
FOLDER_STRIDE = 10**6  # far more than one folder holds in one window


def folder_position(offset: int) -> tuple[int, int]:
    """(FolderID, offset within that folder) of a messages offset."""
    return divmod(offset, FOLDER_STRIDE)


def checked_span(
    window: SyncWindow, horizon: timedelta, period: timedelta
) -> tuple[datetime, datetime]:
    """The receive dates whose summary a messages run checks: the ``horizon`` before the
    window's end (in which messages still change), from the start of the ``period`` that holds
    that day, to the window's end."""
    reach = window.window_to - horizon
    return EPOCH + (reach - EPOCH) // period * period, window.window_to


def messages_span(
    window: SyncWindow, horizon: timedelta, period: timedelta
) -> tuple[datetime, datetime]:
    """The receive dates a messages run reads when it reads: its window and the checked span."""
    assert window.window_from is not None, "messages are fetched in windows"
    checked = checked_span(window, horizon, period)
    return min(window.window_from, checked[0]), window.window_to


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def record_digest(value: object) -> str:
    """A stable digest: any change to any field changes it."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def summary_digest(span: tuple[datetime, datetime], summary: MessageSummary) -> str:
    """What a ReturnSummary says about the span's start on: its folders and every count."""
    return record_digest([span[0].isoformat(), summary.folder_summaries, summary.totals])


def summary_key(account_id: int) -> str:
    return f"msgsummary.{account_id}"


def message_key(account_id: int, message_id: str) -> str:
    # KV keys allow few characters; the message id is hashed into one.
    return f"msg.{account_id}.{hashlib.sha256(message_id.encode()).hexdigest()[:24]}"


@dataclass(frozen=True)
class MessagesSource:
    """GetMyMessages, on receive date, folder by folder: a summary, headers, then bodies.

    Each run first asks for the ``ReturnSummary`` of the ``refresh_horizon`` before its end
    (:func:`checked_span`): the folders and, per folder, how many messages it holds and how
    many are new (unread), with the flagged count. When that span holds the whole window and
    the summary mark of a trusted run (:func:`fetcher.sources.marks.trusts`: the pair's last
    committed run) holds the very same summary for the same span start, nothing arrived, was
    read, replied (a reply is a Sent message), filed or removed since: the run ends after that
    one call, and writes the summary mark again under its own id, vouching for the header
    marks the trusted one vouched for. Otherwise it reads the headers of the window and that
    span (:func:`messages_span`) (``ReturnHeaders`` with ``FolderID`` and
    ``StartTime``/``EndTime``, ascending FolderID) and asks ``ReturnMessages`` (ten ids a call)
    only for the messages whose header is new or differs from the one a trusted run published
    (its mark written by the last committed run, by this run, or by the run the trusted
    summary vouches for); every header's mark is written again under this run's id once its
    page is published. The published records are the full messages as ``ReturnMessages``
    returns them.

    Counts can hide changes that cancel out (a message deleted as another arrives in the same
    folder, a flag moved between two messages). The span's start moves once per
    ``MESSAGES_FULL_READ`` period, and a new start reads every header again, so such a change
    is found within that period; in the sandbox (no deletions, no flag changes) counts never
    hide one. The ``recent`` phase reads nothing: its span is the window's.

    One source page reads folders until one has more headers than a page holds (there is no
    PaginationResult: a short page of headers is a folder's last). The listing is newest first
    and the window ends before "now", so messages arriving or expiring meanwhile do not shift
    the entries still to be read.
    """

    client: TradingClient
    page_size: int = MAX_ENTRIES_PER_PAGE
    family: Family = Family.MESSAGES
    phases: tuple[str, ...] = ("window", "recent")
    refresh_horizon: timedelta = MESSAGES_REFRESH
    full_read: timedelta = MESSAGES_FULL_READ
    # The summaries and headers earlier runs saw (the fetcher's KV bucket; memory by default).
    marks: Marks = field(default_factory=lambda: Marks(MemoryDigests()), compare=False)

    async def page(self, request: PageRequest) -> SourcePage:
        if request.phase == "recent":
            return SourcePage.empty()  # in the window's span
        window, account = request.window, request.account
        assert window.window_from is not None, "messages are fetched in windows"
        checked = checked_span(window, self.refresh_horizon, self.full_read)
        span = messages_span(window, self.refresh_horizon, self.full_read)
        summary = await self.client.message_summary(
            account.token, account.site_id, start=checked[0], end=checked[1]
        )
        remembered: list[tuple[str, Mark]] = []
        key = summary_key(window.account_id)
        last = await self.marks.get(key)
        # The run whose header marks the summary's trusted mark vouches for, if any.
        vouched = (last.vouches or last.run) if last is not None and trusts(last, window) else None
        if request.offset == 0:
            digest = summary_digest(checked, summary)
            if span == checked and vouched is not None and last is not None and last.seen == digest:
                # Nothing moved since a trusted run read it all: this run vouches the same.
                if last.run != window.run_id:
                    await self.marks.put(key, Mark(last.at, window.run_id, digest, vouched))
                return SourcePage.empty()
            remembered.append((key, Mark(window.issued_at, window.run_id, digest)))
        start_folder, inner = folder_position(request.offset)
        messages: list[Record] = []
        for folder in (f for f in summary.folders if f >= start_folder):
            offset = inner if folder == start_folder else 0
            page_no = page_number(offset, self.page_size)
            headers = await self.client.message_headers(
                account.token,
                account.site_id,
                folder_id=folder,
                start=span[0],
                end=span[1],
                page_number=page_no,
                entries_per_page=self.page_size,
            )
            fresh = unseen(headers, offset, page_no, self.page_size)
            changed = await self._changed(window, fresh, remembered, vouched)
            messages += await self._bodies(account.token, account.site_id, changed)
            if len(headers) >= self.page_size:  # the folder goes on: stop inside it
                position = folder * FOLDER_STRIDE + offset + len(fresh)
                shape = self._shape(request, position, has_next=True)
                return SourcePage(messages, shape, self._remember(remembered))
        shape = self._shape(request, request.offset, has_next=False)
        return SourcePage(messages, shape, self._remember(remembered))

    async def _changed(
        self,
        window: SyncWindow,
        headers: list[Record],
        remembered: list[tuple[str, Mark]],
        vouched: UUID | None,
    ) -> list[Record]:
        """The headers that are new or differ from the ones a trusted run published. Every
        header's mark is remembered under this run's id: once it commits, the mirror holds
        each of them as read now (published by this run, or by the trusted run before it)."""
        changed: list[Record] = []
        for header in headers:
            key = message_key(window.account_id, _message_id(header))
            digest = record_digest(header)
            stored = await self.marks.get(key)
            if (
                stored is not None
                and (trusts(stored, window) or stored.run == vouched)
                and stored.seen == digest
            ):
                if stored.run != window.run_id:
                    remembered.append((key, Mark(stored.at, window.run_id, digest)))
                continue
            changed.append(header)
            remembered.append((key, Mark(window.issued_at, window.run_id, digest)))
        return changed

    def _remember(self, remembered: list[tuple[str, Mark]]) -> Published | None:
        if not remembered:
            return None

        async def remember() -> None:
            for key, mark in remembered:
                await self.marks.put(key, mark)

        return remember

    async def _bodies(self, token: SecretStr, site_id: int, headers: list[Record]) -> list[Record]:
        ids = [_message_id(header) for header in headers]
        messages: list[Record] = []
        for first in range(0, len(ids), MAX_MESSAGE_IDS):
            messages += await self.client.messages(
                token, site_id, ids[first : first + MAX_MESSAGE_IDS]
            )
        return messages

    @staticmethod
    def _shape(request: PageRequest, position: int, *, has_next: bool) -> PageShape:
        # ``consumed`` moves the offset to the folder position to go on from.
        return PageShape(consumed=position - request.offset, total=None, has_next=has_next)


def _message_id(header: Record) -> str:
    message_id = header.get("MessageID")
    if not isinstance(message_id, str) or not message_id:
        raise EbayPayloadError("GetMyMessages answered a header without MessageID")
    return message_id


@dataclass(frozen=True)
class ActiveInventorySource:
    """GetMyeBaySelling ActiveList, sorted by ItemID: a snapshot of the live listings.

    Records are the ``Item`` elements without clock-derived fields (``active_listing_record``).
    """

    client: TradingClient
    page_size: int = MAX_ENTRIES_PER_PAGE
    family: Family = Family.ACTIVE_INVENTORY
    phases: tuple[str, ...] = ("snapshot",)

    async def page(self, request: PageRequest) -> SourcePage:
        page_no = page_number(request.offset, self.page_size)
        page = await self.client.active_list(
            request.account.token,
            request.account.site_id,
            page_number=page_no,
            entries_per_page=self.page_size,
        )
        items = [
            active_listing_record(item)
            for item in unseen(page.records, request.offset, page_no, self.page_size)
        ]
        return SourcePage(items, list_shape(page, items, page_no, self.page_size))


@dataclass(frozen=True)
class PurchasesSource:
    """GetMyeBayBuying WonList: every purchase of the last 60 days, on every run.

    WonList has no date filter, only ``DurationInDays`` (at most 60). Each run therefore reads
    the whole 60 days, whatever its window, and writes every purchase returned: purchases of
    the last two months are re-read each run, so later changes to them (payment, shipping) are
    picked up, and unchanged ones cost no write (the upsert skips them). The window still
    completes and the cursor advances as for any incremental family; LOOKBACK_LIMITS caps
    windows at the same 60 days.
    """

    client: TradingClient
    page_size: int = MAX_ENTRIES_PER_PAGE
    duration_days: int = MAX_WON_DURATION_DAYS
    family: Family = Family.PURCHASES
    phases: tuple[str, ...] = ("window",)

    async def page(self, request: PageRequest) -> SourcePage:
        page_no = page_number(request.offset, self.page_size)
        page = await self.client.won_list(
            request.account.token,
            request.account.site_id,
            duration_days=self.duration_days,
            page_number=page_no,
            entries_per_page=self.page_size,
        )
        purchases = unseen(page.records, request.offset, page_no, self.page_size)
        return SourcePage(purchases, list_shape(page, purchases, page_no, self.page_size))


def list_shape(page: ListPage, fresh: list[Record], page_no: int, page_size: int) -> PageShape:
    """How far page ``page_no`` of a paginated container (ActiveList, WonList) got us."""
    return PageShape(
        consumed=len(fresh),
        total=page.total_entries,
        has_next=page_no < page.total_pages and bool(page.records),
        complete=reaches_everything(page.total_entries, page.total_pages, page_size),
    )
