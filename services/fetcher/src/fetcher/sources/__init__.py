"""Every family's source, built once per fetcher process.

To add a family: write its client in ``common.ebay``, its source module here, and one line in
:func:`build_sources`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from common.ebay.disputes import PaymentDisputesClient
from common.ebay.finances import MAX_PAYOUTS_LIMIT, MAX_TRANSACTIONS_LIMIT, FinancesClient
from common.ebay.fulfillment import FulfillmentClient
from common.ebay.inventory import InventoryClient
from common.ebay.learned import LearnedLimits, MemoryLimits
from common.ebay.postorder import (
    CASE_SEARCH,
    INQUIRY_SEARCH,
    RETURN_SEARCH,
    PostOrderClient,
)
from common.ebay.trading import TradingClient
from common.families import Family
from fetcher.settings import FetcherSettings
from fetcher.signing import SigningKeyCache
from fetcher.sources.base import PageRequest, Source, SourcePage
from fetcher.sources.finances import PAYOUTS_REFRESH, TRANSACTIONS_REFRESH, FinancesSource
from fetcher.sources.offers import OffersSource
from fetcher.sources.orders import OrdersSource
from fetcher.sources.postorder import PaymentDisputesSource, PostOrderSource
from fetcher.sources.trading import ActiveInventorySource, MessagesSource, PurchasesSource
from fetcher.tokens import AccountToken, TokenClient

__all__ = ["AccountToken", "PageRequest", "Source", "SourceContext", "SourcePage", "build_sources"]


@dataclass(frozen=True)
class SourceContext:
    """What sources are built from: one HTTP client, the settings, the token service, and
    where limits learned from eBay's refusals are kept (the ``learned_limits`` bucket)."""

    http: httpx.AsyncClient
    settings: FetcherSettings
    tokens: TokenClient
    learned: LearnedLimits = field(default_factory=MemoryLimits)


def build_sources(context: SourceContext) -> Mapping[Family, Source]:
    settings, http = context.settings, context.http
    ebay = settings.ebay
    # Finances lives on the apiz host; one signing key per process, asked for on first use.
    finances = FinancesClient(http, ebay.apiz_base_url)
    signing_keys = SigningKeyCache(context.tokens.signing_key)
    post_order = PostOrderClient(http, ebay.api_base_url, context.learned)
    trading = TradingClient(http, ebay.api_base_url)
    sources: list[Source] = [
        OrdersSource(FulfillmentClient(http, ebay.api_base_url), settings.orders_page_size),
        OffersSource(
            InventoryClient(http, ebay.api_base_url),
            settings.offers_page_size,
            asyncio.Semaphore(settings.offers_concurrency),
        ),
        FinancesSource(
            finances,
            signing_keys,
            MAX_TRANSACTIONS_LIMIT,
            Family.TRANSACTIONS,
            TRANSACTIONS_REFRESH,
        ),
        FinancesSource(finances, signing_keys, MAX_PAYOUTS_LIMIT, Family.FINANCES, PAYOUTS_REFRESH),
        PostOrderSource(post_order, CASE_SEARCH, Family.CASES),
        PostOrderSource(post_order, INQUIRY_SEARCH, Family.INQUIRIES),
        PostOrderSource(post_order, RETURN_SEARCH, Family.RETURNS),
        # Payment disputes live on the apiz host too.
        PaymentDisputesSource(PaymentDisputesClient(http, ebay.apiz_base_url)),
        MessagesSource(trading),
        ActiveInventorySource(trading),
        PurchasesSource(trading),
    ]
    return {source.family: source for source in sources}
