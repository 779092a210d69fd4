"""Every family's source, built once per fetcher process.

To add a family: write its client in ``common.ebay``, its source module here, and one line in
:func:`build_sources`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    PostOrderSearch,
)
from common.ebay.trading import TradingClient
from common.environments import ENVIRONMENTS
from common.families import Family
from common.settings import EbayApiSettings
from fetcher.settings import FetcherSettings
from fetcher.signing import SigningKeyCache
from fetcher.sources.base import PageRequest, Source, SourcePage
from fetcher.sources.details import Digests, FetchDetail, MemoryDigests, WithDetails
from fetcher.sources.finances import PAYOUTS_REFRESH, TRANSACTIONS_REFRESH, FinancesSource
from fetcher.sources.marks import Marks, clock_of
from fetcher.sources.offers import OffersSource
from fetcher.sources.orders import OrdersSource
from fetcher.sources.postorder import PaymentDisputesSource, PostOrderSource
from fetcher.sources.targeted import with_targets
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
    # Digests of the summaries whose detail was read (fetcher.sources.details), and the marks
    # of what earlier runs did and saw (fetcher.sources.marks), in the same store.
    digests: Digests = field(default_factory=MemoryDigests)
    # The pooled client of one eBay host, by base URL (None: ``http`` for every host).
    clients: Callable[[str], httpx.AsyncClient] | None = None

    def client_for(self, base_url: str) -> httpx.AsyncClient:
        return self.http if self.clients is None else self.clients(base_url)


def build_sources(context: SourceContext) -> Mapping[Family, Source]:
    """Each family's source; it calls the hosts of the account's environment."""
    settings = context.settings
    # One bound on getOffers calls per process, whichever hosts they go to.
    offers_calls = asyncio.Semaphore(settings.offers_concurrency)
    by_environment: dict[str, Mapping[Family, Source]] = {}
    default = _sources(context, settings.ebay, None, offers_calls)
    for environment in ENVIRONMENTS:
        by_environment[environment] = _sources(
            context,
            settings.environments.keyset(environment, settings.ebay),
            environment,
            offers_calls,
        )
    return {
        family: EnvironmentSource(source, {e: s[family] for e, s in by_environment.items()})
        for family, source in default.items()
    }


@dataclass(frozen=True)
class EnvironmentSource:
    """A family's source that pages through the hosts of each account's own environment."""

    default: Source
    by_environment: Mapping[str, Source]

    @property
    def family(self) -> Family:
        return self.default.family

    @property
    def phases(self) -> tuple[str, ...]:
        return self.default.phases

    async def page(self, request: PageRequest) -> SourcePage:
        environment = request.account.environment
        source = self.by_environment.get(environment, self.default) if environment else None
        return await (source or self.default).page(request)


def _sources(
    context: SourceContext,
    ebay: EbayApiSettings,
    environment: str | None,
    offers_calls: asyncio.Semaphore,
) -> Mapping[Family, Source]:
    settings = context.settings
    http, apiz = context.client_for(ebay.api_base_url), context.client_for(ebay.apiz_base_url)
    # Finances lives on the apiz host; one signing key per process and keyset, asked for on
    # first use.
    finances = FinancesClient(apiz, ebay.apiz_base_url)
    signing_keys = SigningKeyCache(lambda: context.tokens.signing_key(environment))
    post_order = PostOrderClient(http, ebay.api_base_url, context.learned)
    trading = TradingClient(http, ebay.api_base_url)
    disputes = PaymentDisputesClient(apiz, ebay.apiz_base_url)
    marks = Marks(context.digests)
    fulfillment = FulfillmentClient(http, ebay.api_base_url)
    sources: list[Source] = [
        OrdersSource(fulfillment, settings.orders_page_size),
        OffersSource(
            InventoryClient(http, ebay.api_base_url), settings.offers_page_size, offers_calls
        ),
        FinancesSource(
            finances,
            signing_keys,
            MAX_TRANSACTIONS_LIMIT,
            Family.TRANSACTIONS,
            TRANSACTIONS_REFRESH,
            clock=clock_of(marks, Family.TRANSACTIONS),
        ),
        FinancesSource(
            finances,
            signing_keys,
            MAX_PAYOUTS_LIMIT,
            Family.FINANCES,
            PAYOUTS_REFRESH,
            clock=clock_of(marks, Family.FINANCES),
        ),
        PostOrderSource(post_order, CASE_SEARCH, Family.CASES, clock=clock_of(marks, Family.CASES)),
        # Inquiries, returns and disputes whose summary changed are read in detail too.
        WithDetails(
            PostOrderSource(
                post_order,
                INQUIRY_SEARCH,
                Family.INQUIRIES,
                clock=clock_of(marks, Family.INQUIRIES),
            ),
            "inquiryId",
            post_order_detail(post_order, INQUIRY_SEARCH),
            context.digests,
        ),
        WithDetails(
            PostOrderSource(
                post_order, RETURN_SEARCH, Family.RETURNS, clock=clock_of(marks, Family.RETURNS)
            ),
            "returnId",
            post_order_detail(post_order, RETURN_SEARCH),
            context.digests,
        ),
        # Payment disputes live on the apiz host too.
        WithDetails(
            PaymentDisputesSource(disputes, clock=clock_of(marks, Family.PAYMENT_DISPUTES)),
            "paymentDisputeId",
            lambda account, dispute_id: disputes.get_dispute(account.token, dispute_id),
            context.digests,
        ),
        MessagesSource(trading, marks=marks),
        ActiveInventorySource(trading),
        PurchasesSource(trading),
    ]
    # Notifications' targeted windows re-read just their ids (fetcher.sources.targeted).
    return with_targets(sources, fulfillment=fulfillment, trading=trading, post_order=post_order)


def post_order_detail(client: PostOrderClient, search: PostOrderSearch) -> FetchDetail:
    async def fetch(account: AccountToken, entity_id: str) -> dict[str, Any]:
        return await client.detail(
            search, account.token, marketplace_id=account.marketplace_id, entity_id=entity_id
        )

    return fetch
