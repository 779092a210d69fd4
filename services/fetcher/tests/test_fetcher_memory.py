"""Bounded memory: a fetcher process syncing a seller with 25,000 listings stays under 200 MB."""

from __future__ import annotations

import pytest
from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.ebay.quota import EbayApi
from common.families import Family
from common.ledger import CallCounter, CallLedger, CallLedgerSettings
from common.metrics import MetricsSettings
from common.settings import NatsSettings
from common.streams import BUCKETS
from ebay_sandbox.settings import SandboxConfig
from fetcher.settings import FetcherSettings
from testkit.memory import MIB, fetch_in_subprocess
from testkit.pipeline import family_pipeline

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

PEAK_RSS_LIMIT = 200 * MIB


async def test_a_fetcher_syncing_25_000_listings_stays_under_200_mb(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    config = SandboxConfig(sellers=1, profile="huge", listings=25_000, clock_frozen=True)
    settings = FetcherSettings(nats=NatsSettings(url=nats_url), metrics=MetricsSettings(port=0))
    async with family_pipeline(
        nats_url=nats_url,
        database_url=migrated_database_url,
        broker=broker,
        sessions=sessions,
        config=config,
        fetcher_settings=settings,
    ) as pipeline:
        # A snapshot of every active listing (about 25,000), in GetMyeBaySelling pages of 200.
        seller = pipeline.sellers[0]
        report = await fetch_in_subprocess(
            pipeline, seller, Family.ACTIVE_INVENTORY, window_from=None
        )
        # The process counted its eBay calls in the shared ledger (fetcher.app's wiring).
        ledger_kv = await broker.key_value(BUCKETS.call_ledger.bucket, declare=False)
        ledger = CallLedger(ledger_kv, CallCounter(), CallLedgerSettings())
        usage = await ledger.usage(EbayApi.TRADING, seller.account_id)
    assert usage.account_calls > 20_000 // 200
    # The whole catalogue was fetched, and measured (a Python process alone is ~40 MB).
    assert report.pages > 20_000 // 200
    assert report.peak_rss_bytes > 20 * MIB
    assert report.peak_rss_bytes < PEAK_RSS_LIMIT, f"peak RSS {report.peak_rss_mib:.0f} MiB"
