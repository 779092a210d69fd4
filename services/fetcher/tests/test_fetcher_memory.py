"""Bounded memory: a fetcher process syncing a seller with 25,000 listings stays under 200 MB."""

from __future__ import annotations

import pytest
from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.families import Family
from common.metrics import MetricsSettings
from common.settings import NatsSettings
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
        # A snapshot of every active listing: 125 GetMyeBaySelling pages of 200.
        report = await fetch_in_subprocess(
            pipeline, pipeline.sellers[0], Family.ACTIVE_INVENTORY, window_from=None
        )
    print(f"fetcher peak RSS {report.peak_rss_mib:.1f} MiB over {report.pages} pages")
    # The whole catalogue was fetched, and measured (a Python process alone is ~40 MB).
    assert report.pages >= 25_000 // 200
    assert report.peak_rss_bytes > 20 * MIB
    assert report.peak_rss_bytes < PEAK_RSS_LIMIT, f"peak RSS {report.peak_rss_mib:.0f} MiB"
