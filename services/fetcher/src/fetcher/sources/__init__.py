"""Every family's source, built once per fetcher process.

To add a family: write its client in ``common.ebay``, its source module here, and one line in
:func:`build_sources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from common.ebay.fulfillment import FulfillmentClient
from common.families import Family
from fetcher.settings import FetcherSettings
from fetcher.sources.base import PageRequest, Source, SourcePage
from fetcher.sources.orders import OrdersSource
from fetcher.tokens import AccountToken, TokenClient

__all__ = ["AccountToken", "PageRequest", "Source", "SourceContext", "SourcePage", "build_sources"]


@dataclass(frozen=True)
class SourceContext:
    """What sources are built from: one HTTP client, the settings, the token service."""

    http: httpx.AsyncClient
    settings: FetcherSettings
    tokens: TokenClient


def build_sources(context: SourceContext) -> Mapping[Family, Source]:
    settings, http = context.settings, context.http
    ebay = settings.ebay
    sources: list[Source] = [
        OrdersSource(FulfillmentClient(http, ebay.api_base_url), settings.orders_page_size),
    ]
    return {source.family: source for source in sources}
