"""The Trading API (XML) families: messages, active listings (a snapshot) and purchases.

All three page by page number; the fetcher's offset is the number of entries already consumed,
so the page to ask for is ``offset // page_size + 1``. Should a page ever start before the offset
(an oversized page moved the offset off a page boundary), its entries before the offset are
skipped: they were published already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.trading import (
    MAX_ENTRIES_PER_PAGE,
    MAX_MESSAGE_IDS,
    MAX_WON_DURATION_DAYS,
    ListPage,
    TradingClient,
    active_listing_record,
)
from common.ebay.xml import Record
from common.families import Family
from common.windows import LOOKBACK_LIMITS
from fetcher.domain import PageShape
from fetcher.sources.base import PageRequest, SourcePage, refresh_range


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


# A messages offset is a position in the folders of the seller, in ascending FolderID order:
# ``folder_id * FOLDER_STRIDE + entries of that folder already consumed``. Keyed by the id, not
# the folder's rank, so a folder created or deleted mid-window moves no other folder's position.
FOLDER_STRIDE = 10**6  # far more than one folder holds in one window


def folder_position(offset: int) -> tuple[int, int]:
    """(FolderID, offset within that folder) of a messages offset."""
    return divmod(offset, FOLDER_STRIDE)


@dataclass(frozen=True)
class MessagesSource:
    """GetMyMessages, on receive date, folder by folder: headers first, then their bodies.

    Each phase lists the folders (one ``ReturnSummary`` call: Inbox 0, Sent 1, custom folders)
    and reads them in ascending FolderID order; for each, ``ReturnHeaders`` calls with its
    ``FolderID`` and ``StartTime``/``EndTime`` = the window, then ``ReturnMessages`` calls for
    the ids, at most ten at a time; the published records are the full messages as
    ``ReturnMessages`` returns them. One source page reads folders until one has more headers
    than a page holds (there is no PaginationResult: a short page of headers is a folder's
    last), so a caught-up account costs one summary and one headers call per folder. The
    listing is newest first and the window ends before "now", so messages arriving or expiring
    meanwhile do not shift the entries still to be read.

    A message changes after it arrives (read, replied, filed into another folder), while its
    receive date stays, so each run also re-reads the ``recent`` messages received within
    ``refresh_horizon`` before it. A message filed away between two folder reads of one pass is
    caught by that re-read or the next run's.
    """

    client: TradingClient
    page_size: int = MAX_ENTRIES_PER_PAGE
    family: Family = Family.MESSAGES
    phases: tuple[str, ...] = ("window", "recent")
    refresh_horizon: timedelta = MESSAGES_REFRESH

    async def page(self, request: PageRequest) -> SourcePage:
        window, account = request.window, request.account
        assert window.window_from is not None, "messages are fetched in windows"
        span: tuple[datetime, datetime] | None = (window.window_from, window.window_to)
        if request.phase == "recent":
            span = refresh_range(window, self.refresh_horizon, LOOKBACK_LIMITS[self.family])
        if span is None:
            return SourcePage.empty()
        start_folder, inner = folder_position(request.offset)
        folders = await self.client.message_folders(account.token, account.site_id)
        messages: list[Record] = []
        for folder in (f for f in folders if f >= start_folder):
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
            messages += await self._bodies(account.token, account.site_id, fresh)
            if len(headers) >= self.page_size:  # the folder goes on: stop inside it
                position = folder * FOLDER_STRIDE + offset + len(fresh)
                return SourcePage(messages, self._shape(request, position, has_next=True))
        return SourcePage(messages, self._shape(request, request.offset, has_next=False))

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
