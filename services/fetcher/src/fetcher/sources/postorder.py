"""Cases, inquiries and returns (Post-Order search) and payment disputes (Fulfillment).

These searches filter on when an entity was *created* (opened), so a window never sees later
changes to an entity created before it. Each run therefore has refresh phases after its window
(DESIGN §1):

- Post-Order, ``open``: every entity still open, whatever its age (the documented open-state
  filter, no dates). This alone cannot notice a *closure*: a closed entity is no longer open, so
  it would stay open in the mirror forever. Hence
- Post-Order, ``recent``: every entity, open or closed, created within ``refresh_horizon``
  before the window. Cases, inquiries and returns settle within weeks of being opened; an
  entity open longer than the horizon still gets its changes through ``open``, and only its
  closure after the horizon would be missed.
- Payment disputes, ``open``: the method without any filter, which eBay documents as "all open
  and recently closed payment disputes" — both the still-open ones and the closures since.

Refresh phases run only when their cadence is due (``FamilySpec.cadences``,
:mod:`fetcher.sources.marks`). ``recent`` ends where the window starts and filters on the same
date, so when due it is read by the window's own search over both spans (one call, not two);
``open`` filters on state instead and has to stay its own search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from common.ebay.disputes import MAX_LIMIT as DISPUTES_MAX_LIMIT
from common.ebay.disputes import PaymentDisputesClient, open_date_params
from common.ebay.errors import EbayPayloadError
from common.ebay.fulfillment import ebay_timestamp
from common.ebay.learned import halved_range
from common.ebay.postorder import MAX_LIMIT as POST_ORDER_MAX_LIMIT
from common.ebay.postorder import (
    PostOrderClient,
    PostOrderSearch,
    RangeRefusedError,
    SearchPage,
)
from common.families import Family
from common.messages import SyncWindow
from common.windows import LOOKBACK_LIMITS
from fetcher.domain import PageShape
from fetcher.sources.base import PageRequest, SourcePage, refresh_range, with_recent
from fetcher.sources.details import MemoryDigests
from fetcher.sources.marks import Marks, PhaseClock, then

POST_ORDER_PHASES = ("window", "open", "recent")
# How long after being opened a case, inquiry or return may still change (the sandbox: never
# later than 120 days after its order; at eBay they are decided within weeks).
REFRESH_HORIZON = timedelta(days=120)
# A phase read in chunks (a date range longer than eBay accepts) keeps its place in one
# offset: the chunk's start, in minutes after the phase's start, times STRIDE, plus the
# offset within the chunk. No seller has a million cases created within one chunk.
STRIDE = 1_000_000
Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class PhaseQuery:
    """What one phase searches: its non-date filters and its creation-date span."""

    filters: Mapping[str, str]
    # None: the date-less search (every entity the filters keep, however old).
    span: Span | None


def phase_query(
    search: PostOrderSearch,
    family: Family,
    phase: str,
    window: SyncWindow,
    horizon: timedelta,
    *,
    with_refresh: bool = False,
) -> PhaseQuery | None:
    """The query of one phase of a window; None when the phase has nothing to read.

    ``with_refresh``: the window phase also reads the span of the ``recent`` one.
    """
    assert window.window_from is not None, f"{family} is fetched in windows"
    if phase == "window":
        if with_refresh:
            return PhaseQuery({}, with_recent(window, horizon, LOOKBACK_LIMITS[family]))
        return PhaseQuery({}, (window.window_from, window.window_to))
    if phase == "open":
        return PhaseQuery(dict([search.open_filter]), None)
    if phase == "recent":
        # The API refuses a start more than 18 months back; issued_at is the run's "now".
        span = refresh_range(window, horizon, LOOKBACK_LIMITS[family])
        return None if span is None else PhaseQuery({}, span)
    raise ValueError(f"unknown phase {phase!r} of {family}")


def date_filters(search: PostOrderSearch, span: Span) -> dict[str, str]:
    return {
        search.date_from_param: ebay_timestamp(span[0]),
        search.date_to_param: ebay_timestamp(span[1]),
    }


def post_order_filters(
    search: PostOrderSearch, family: Family, phase: str, window: SyncWindow, horizon: timedelta
) -> Mapping[str, str] | None:
    """The search filters of one phase read in one piece; None when it has nothing to read."""
    query = phase_query(search, family, phase, window, horizon)
    if query is None:
        return None
    dates = {} if query.span is None else date_filters(search, query.span)
    return {**query.filters, **dates}


def lookback_span(window: SyncWindow, family: Family) -> Span:
    """What a date-less search covers: the whole lookback up to the run's now."""
    return (window.issued_at - LOOKBACK_LIMITS[family], window.issued_at)


def searched_range(
    query: PhaseQuery, window: SyncWindow, family: Family, max_range: timedelta | None
) -> timedelta:
    """The date range a phase's calls ask for: its span, at most ``max_range``."""
    start, end = query.span or lookback_span(window, family)
    return min(end - start, max_range) if max_range is not None else end - start


@dataclass(frozen=True)
class Chunk:
    """One piece of a chunked phase: its dates and where in the phase it starts."""

    span: Span
    minute: int
    local: int
    # The position of the chunk after this one; None for the last.
    following: int | None


def chunk_at(span: Span, max_range: timedelta, offset: int) -> Chunk:
    """The chunk a chunked phase's ``offset`` is in (pure)."""
    minute, local = divmod(offset, STRIDE)
    start = span[0] + timedelta(minutes=minute)
    end = min(start + max_range, span[1])
    following = None
    if end < span[1]:
        following = int((end - span[0]).total_seconds() // 60) * STRIDE
    return Chunk((start, end), minute, local, following)


@dataclass(frozen=True)
class PostOrderSource:
    """One Post-Order search. A date range eBay refuses is halved until one is accepted, which
    is learned (common.ebay.learned); a phase longer than the learned range is read in chunks,
    and the date-less ``open`` search, once eBay wants dates, as chunks of the whole lookback.
    """

    client: PostOrderClient
    search: PostOrderSearch
    family: Family
    page_size: int = POST_ORDER_MAX_LIMIT
    refresh_horizon: timedelta = REFRESH_HORIZON
    phases: tuple[str, ...] = POST_ORDER_PHASES
    # When the refresh phases last ran; the default (no marks kept) makes them due every window.
    clock: PhaseClock = field(
        default_factory=lambda: PhaseClock(Marks(MemoryDigests()), {}), compare=False
    )

    async def page(self, request: PageRequest) -> SourcePage:
        window = request.window
        if request.phase == "recent":
            return SourcePage.empty()  # read with the window when due
        # The window phase carries ``recent`` when that is due; ``open`` runs when it is due.
        refresh = "recent" if request.phase == "window" else request.phase
        due = await self.clock.is_due(self.family, window, refresh)
        if not due and request.phase != "window":
            return SourcePage.empty()
        query = phase_query(
            self.search,
            self.family,
            request.phase,
            window,
            self.refresh_horizon,
            with_refresh=due,
        )
        if query is None:
            return SourcePage.empty()
        page = await self._page(request, query)
        if due and not page.shape.has_next:
            ran = self.clock.ran(self.family, window, [refresh])
            return replace(page, published=then(page.published, ran))
        return page

    async def _page(self, request: PageRequest, query: PhaseQuery) -> SourcePage:
        max_range = await self.client.max_range(self.search)
        trying: timedelta | None = None
        while True:
            try:
                page = await self._read(request, query, max_range)
            except RangeRefusedError:
                refused = searched_range(query, request.window, self.family, max_range)
                smaller = halved_range(refused)
                if smaller is None:
                    raise  # refused at any length: the dates are wrong, not too far apart
                max_range = trying = smaller
                continue
            if trying is not None:
                # Recorded only once accepted: a refusal for another reason learns nothing.
                await self.client.learn_range(self.search, trying)
            return page

    async def _read(
        self, request: PageRequest, query: PhaseQuery, max_range: timedelta | None
    ) -> SourcePage:
        if query.span is None and max_range is None:
            return await self._whole(request, query.filters)
        span = query.span or lookback_span(request.window, self.family)
        if max_range is None or span[1] - span[0] <= max_range:
            return await self._whole(request, {**query.filters, **date_filters(self.search, span)})
        return await self._chunked(request, query.filters, span, max_range)

    async def _whole(self, request: PageRequest, filters: Mapping[str, str]) -> SourcePage:
        page = await self._search(request, filters, request.offset)
        return SourcePage.listed(page.members, total=page.total, has_next=page.has_next)

    async def _chunked(
        self, request: PageRequest, filters: Mapping[str, str], span: Span, max_range: timedelta
    ) -> SourcePage:
        """The next non-empty page of the chunks from ``request.offset`` on (or the last).

        No total: each chunk has its own, and the fetcher's stability check compares one
        total across a phase's pages.
        """
        offset = request.offset
        while True:
            chunk = chunk_at(span, max_range, offset)
            dates = date_filters(self.search, chunk.span)
            page = await self._search(request, {**filters, **dates}, chunk.local)
            local = chunk.local + len(page.members)
            if local >= STRIDE:
                raise EbayPayloadError(f"a {self.search.name} chunk holds over {STRIDE} members")
            following = chunk.minute * STRIDE + local if page.has_next else chunk.following
            if page.members or following is None:
                # The offset moves to the next page's position (past any empty chunks).
                consumed = (
                    following - request.offset if following is not None else len(page.members)
                )
                shape = PageShape(consumed=consumed, total=None, has_next=following is not None)
                return SourcePage(page.members, shape)
            offset = following  # an empty chunk: on to the next in the same page

    async def _search(
        self, request: PageRequest, filters: Mapping[str, str], offset: int
    ) -> SearchPage:
        return await self.client.search(
            self.search,
            request.account.token,
            marketplace_id=request.account.marketplace_id,
            filters=filters,
            offset=offset,
            limit=self.page_size,
        )


def dispute_filters(phase: str, window: SyncWindow) -> Mapping[str, str]:
    assert window.window_from is not None, "payment disputes are fetched in windows"
    if phase == "window":
        return open_date_params(window.window_from, window.window_to)
    if phase == "open":
        return {}  # no filter at all: every open and recently closed dispute
    raise ValueError(f"unknown phase {phase!r} of payment disputes")


@dataclass(frozen=True)
class PaymentDisputesSource:
    client: PaymentDisputesClient
    page_size: int = DISPUTES_MAX_LIMIT
    family: Family = Family.PAYMENT_DISPUTES
    phases: tuple[str, ...] = ("window", "open")
    # When ``open`` last ran; the default (no marks kept) makes it due every window.
    clock: PhaseClock = field(
        default_factory=lambda: PhaseClock(Marks(MemoryDigests()), {}), compare=False
    )

    async def page(self, request: PageRequest) -> SourcePage:
        refresh = request.phase == "open"
        if refresh and not await self.clock.is_due(self.family, request.window, "open"):
            return SourcePage.empty()
        page = await self.client.get_summaries(
            request.account.token,
            filters=dispute_filters(request.phase, request.window),
            offset=request.offset,
            limit=self.page_size,
        )
        listed = SourcePage.listed(page.disputes, total=page.total, has_next=page.has_next)
        if refresh and not page.has_next:
            return replace(listed, published=self.clock.ran(self.family, request.window, ["open"]))
        return listed
