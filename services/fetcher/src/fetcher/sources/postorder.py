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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from common.ebay.disputes import MAX_LIMIT as DISPUTES_MAX_LIMIT
from common.ebay.disputes import PaymentDisputesClient, open_date_params
from common.ebay.fulfillment import ebay_timestamp
from common.ebay.postorder import MAX_LIMIT as POST_ORDER_MAX_LIMIT
from common.ebay.postorder import PostOrderClient, PostOrderSearch
from common.families import Family
from common.messages import SyncWindow
from common.windows import LOOKBACK_LIMITS
from fetcher.sources.base import PageRequest, SourcePage, refresh_range

POST_ORDER_PHASES = ("window", "open", "recent")
# How long after being opened a case, inquiry or return may still change (the sandbox: never
# later than 120 days after its order; at eBay they are decided within weeks).
REFRESH_HORIZON = timedelta(days=120)


def post_order_filters(
    search: PostOrderSearch, family: Family, phase: str, window: SyncWindow, horizon: timedelta
) -> Mapping[str, str] | None:
    """The search filters of one phase of a window; None when the phase has nothing to read."""
    assert window.window_from is not None, f"{family} is fetched in windows"
    if phase == "window":
        return search.window_params(window.window_from, window.window_to)
    if phase == "open":
        return dict([search.open_filter])
    if phase == "recent":
        # The API refuses a start more than 18 months back; issued_at is the run's "now".
        span = refresh_range(window, horizon, LOOKBACK_LIMITS[family])
        if span is None:
            return None
        start, end = span
        return {
            search.date_from_param: ebay_timestamp(start),
            search.date_to_param: ebay_timestamp(end),
        }
    raise ValueError(f"unknown phase {phase!r} of {family}")


@dataclass(frozen=True)
class PostOrderSource:
    client: PostOrderClient
    search: PostOrderSearch
    family: Family
    page_size: int = POST_ORDER_MAX_LIMIT
    refresh_horizon: timedelta = REFRESH_HORIZON
    phases: tuple[str, ...] = POST_ORDER_PHASES

    async def page(self, request: PageRequest) -> SourcePage:
        filters = post_order_filters(
            self.search, self.family, request.phase, request.window, self.refresh_horizon
        )
        if filters is None:
            return SourcePage.empty()
        page = await self.client.search(
            self.search,
            request.account.token,
            marketplace_id=request.account.marketplace_id,
            filters=filters,
            offset=request.offset,
            limit=self.page_size,
        )
        return SourcePage.listed(page.members, total=page.total, has_next=page.has_next)


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

    async def page(self, request: PageRequest) -> SourcePage:
        page = await self.client.get_summaries(
            request.account.token,
            filters=dispute_filters(request.phase, request.window),
            offset=request.offset,
            limit=self.page_size,
        )
        return SourcePage.listed(page.disputes, total=page.total, has_next=page.has_next)
