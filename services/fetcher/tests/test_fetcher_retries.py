"""Transient eBay faults against the real sandbox over HTTP: retried inside the page, or the
window handed back to JetStream with eBay's delay; and the call ledger gating a window."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.clock import utc_now
from common.ebay.errors import EbayQuotaError, EbayTransientError
from common.ebay.quota import EbayApi, seconds_until_quota_reset
from common.families import Family
from common.ledger import (
    CallCounter,
    CallLedger,
    CallLedgerSettings,
    DailyQuotas,
    Go,
    calls_for,
)
from common.messages import PageBatch, SyncWindow, Trigger
from common.redelivery import retry_delay
from common.streams import BUCKETS, ensure_topology
from common.telemetry import EBAY_REQUEST_ID_ATTRIBUTE
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from fetcher.app import ebay_http_client
from fetcher.checkpoints import CheckpointStore
from fetcher.service import WindowFetcher
from fetcher.settings import FetcherSettings, PageRetrySettings
from fetcher.sources import SourceContext, build_sources
from testkit.pipeline import Pipeline, family_pipeline

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

PAGE_SIZE = 10
# Short enough that a held request fails fast, long enough for a loaded machine's answers.
CLIENT_TIMEOUT = 1.5
FAST_RETRIES = PageRetrySettings(attempts=4, initial_seconds=0.01, max_seconds=0.05)


@dataclass
class Harness:
    pipeline: Pipeline
    ledger_kv: KeyValue
    counter: CallCounter = field(default_factory=CallCounter)
    # Offsets of every getOrders request, retries included, in order.
    offsets: list[int] = field(default_factory=list)
    published: list[PageBatch] = field(default_factory=list)
    # A fault (kind, options) queued once the first page is published, so it hits a later page.
    fault_after_first_page: tuple[str, dict[str, Any]] | None = None

    async def fetcher(
        self, http: httpx.AsyncClient, quotas: DailyQuotas | None = None
    ) -> WindowFetcher:
        settings = self.pipeline.fetcher_settings
        ledger = CallLedger(
            self.ledger_kv,
            self.counter,
            # Every page stores its counts at once: the tests read them right after the window.
            CallLedgerSettings(quotas=quotas or DailyQuotas(), flush_seconds=0),
        )

        async def publish(page: PageBatch) -> None:
            self.published.append(page)
            if self.fault_after_first_page is not None:
                kind, options = self.fault_after_first_page
                self.fault_after_first_page = None
                await self.fault(kind, **options)

        return WindowFetcher(
            self.pipeline.tokens,
            build_sources(SourceContext(http, settings, self.pipeline.tokens)),
            CheckpointStore(
                await self.pipeline.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
            ),
            publish,
            max_page_bytes=settings.max_page_bytes,
            max_passes=settings.max_passes,
            page_retry=FAST_RETRIES,
            ledger=ledger,
        )

    @contextlib.asynccontextmanager
    async def http(self) -> AsyncIterator[httpx.AsyncClient]:
        """The fetcher's own client (``ebay_http_client``) with a short request timeout."""
        settings = self.pipeline.fetcher_settings
        short = settings.model_copy(
            update={
                "ebay": settings.ebay.model_copy(update={"request_timeout_seconds": CLIENT_TIMEOUT})
            }
        )

        async def record(request: httpx.Request) -> None:
            if request.url.path.endswith("/order"):
                self.offsets.append(int(request.url.params["offset"]))

        async with ebay_http_client(short, self.counter) as http:
            http.event_hooks["request"].append(record)
            yield http

    async def window(self, days: int = 20) -> SyncWindow:
        now = await self.pipeline.sandbox_now()
        return SyncWindow(
            run_id=uuid.uuid4(),
            account_id=self.pipeline.sellers[0].account_id,
            family=Family.ORDERS,
            window_from=now - timedelta(days=days),
            window_to=now,
            trigger=Trigger.MANUAL,
            issued_at=now,
        )

    async def truth(self, window: SyncWindow) -> dict[str, Any]:
        truth = TRUTHS[Family.ORDERS]
        body = await self.pipeline.truth(
            self.pipeline.sellers[0],
            truth.path,
            date_from=window.window_from,
            date_to=window.window_to,
        )
        return {truth.key(r): r for r in truth.records(body.content)}

    def fetched(self, window: SyncWindow) -> list[dict[str, Any]]:
        return [r for p in self.published if p.run_id == window.run_id for r in p.records]

    async def fault(self, kind: str, **options: Any) -> None:
        await self.pipeline.fault(self.pipeline.sellers[0], kind, family="orders", **options)


@pytest.fixture
async def harness(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Harness]:
    with contextlib.suppress(NotFoundError):
        await topology.delete_stream(f"KV_{BUCKETS.call_ledger.bucket}")
    await ensure_topology(topology)
    config = SandboxConfig(sellers=1, profile="tiny", orders_per_day=5, clock_frozen=True)
    async with family_pipeline(
        nats_url=nats_url,
        database_url=migrated_database_url,
        broker=broker,
        sessions=sessions,
        config=config,
        fetcher_settings=FetcherSettings(orders_page_size=PAGE_SIZE),
    ) as pipeline:
        yield Harness(pipeline, await topology.key_value(BUCKETS.call_ledger.bucket))


def retries(kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "ebaysync_page_retries_total", {"family": "orders", "kind": kind}
    )
    return value or 0.0


async def assert_whole_window_once(harness: Harness, window: SyncWindow) -> None:
    pages = [p for p in harness.published if p.run_id == window.run_id]
    assert [p.page_no for p in pages] == list(range(1, len(pages) + 1))
    assert pages[-1].page_count == len(pages)
    fetched = harness.fetched(window)
    expected = await harness.truth(window)
    assert len(expected) > 2 * PAGE_SIZE
    # Every order exactly once: a retried page was published once.
    assert len(fetched) == len(expected)
    assert {r["orderId"]: r for r in fetched} == expected


@pytest.mark.parametrize(
    ("kind", "options", "metric"),
    [
        ("http_5xx", {"status": 503}, "http_5xx"),
        ("timeout", {"delay_seconds": 10}, "transport"),
        ("drop_connection", {}, "transport"),
        ("malformed_json", {}, "payload"),
    ],
)
async def test_a_transient_fault_is_retried_inside_the_page(
    harness: Harness, kind: str, options: dict[str, Any], metric: str
) -> None:
    window = await harness.window()
    before = retries(metric)
    harness.fault_after_first_page = (kind, {**options, "count": 2})
    async with harness.http() as http:
        await (await harness.fetcher(http)).fetch(window)
    # The second page failed twice and was asked for again at the same offset.
    assert harness.offsets[:4] == [0, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE]
    assert retries(metric) - before == 2
    await assert_whole_window_once(harness, window)
    # Every call reached the ledger, the failed ones too.
    usage = await CallLedger(harness.ledger_kv, CallCounter(), CallLedgerSettings()).usage(
        EbayApi.FULFILLMENT, window.account_id
    )
    assert usage.api_calls == usage.account_calls == len(harness.offsets)


async def test_a_fault_that_outlasts_the_retries_hands_the_window_back(harness: Harness) -> None:
    window = await harness.window()
    await harness.fault("http_5xx", status=500, count=FAST_RETRIES.attempts)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    request_ids: list[str] = []

    async def keep_request_id(response: httpx.Response) -> None:
        request_ids.append(response.headers["x-ebay-c-request-id"])

    async with harness.http() as http:
        http.event_hooks["response"].append(keep_request_id)
        fetcher = await harness.fetcher(http)
        with (
            pytest.raises(EbayTransientError) as raised,
            provider.get_tracer("test").start_as_current_span("fetch window"),
        ):
            await fetcher.fetch(window)
        assert raised.value.status == 500
        # eBay support asks for the failed call's id: the error, its message and the span keep it.
        assert len(set(request_ids)) == FAST_RETRIES.attempts
        assert raised.value.request_id == request_ids[-1]
        assert f"eBay request id {request_ids[-1]}" in str(raised.value)
        [span] = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes[EBAY_REQUEST_ID_ATTRIBUTE] == request_ids[-1]
        failed_calls = [e for e in span.events if e.name == "ebay.call_failed"]
        # Every failed call in order: the three retried, then the last.
        noted = [(e.attributes or {})[EBAY_REQUEST_ID_ATTRIBUTE] for e in failed_calls]
        assert noted == request_ids
        assert harness.offsets == [0] * FAST_RETRIES.attempts
        assert harness.published == []
        # The redelivered window starts over at the page that failed, and completes.
        await fetcher.fetch(window)
    await assert_whole_window_once(harness, window)


@pytest.mark.parametrize(
    ("kind", "options", "retry_after"),
    [
        ("http_429", {}, None),
        ("retry_after_429", {"retry_after": 42}, 42.0),
        # A REST quota answers 429 2001 as well: the window waits outside the worker too.
        ("quota_2001", {"count": 1}, None),
    ],
)
async def test_a_429_hands_the_window_back_at_once_with_ebays_delay(
    harness: Harness, kind: str, options: dict[str, Any], retry_after: float | None
) -> None:
    window = await harness.window()
    async with harness.http() as http:
        fetcher = await harness.fetcher(http)
        await harness.fault(kind, **options)
        with pytest.raises(EbayTransientError) as raised:
            await fetcher.fetch(window)
        # Not retried in the page: one call, nothing published.
        assert harness.offsets == [0]
        assert harness.published == []
        assert raised.value.status == 429
        assert raised.value.retry_after == retry_after
        # The handler NAKs with this delay: Retry-After when sent, else backoff.
        assert retry_delay(1, raised.value.retry_after) == (retry_after or 2.0)
        await fetcher.fetch(window)
    await assert_whole_window_once(harness, window)


async def test_a_slow_answer_within_the_client_timeout_is_simply_waited_for(
    harness: Harness,
) -> None:
    window = await harness.window()
    await harness.fault("latency", delay_seconds=CLIENT_TIMEOUT / 3, count=2)
    async with harness.http() as http:
        await (await harness.fetcher(http)).fetch(window)
    assert harness.offsets[:2] == [0, PAGE_SIZE]  # no retry
    await assert_whole_window_once(harness, window)


async def test_an_oversized_page_is_taken_whole_and_split_under_the_message_limit(
    harness: Harness,
) -> None:
    window = await harness.window()
    # eBay answers far more than the limit asked for; paging continues after what it sent.
    await harness.fault("oversized_page", page_items=5 * PAGE_SIZE, count=1)
    async with harness.http() as http:
        await (await harness.fetcher(http)).fetch(window)
    assert harness.offsets[:2] == [0, 5 * PAGE_SIZE]
    await assert_whole_window_once(harness, window)


async def test_an_account_over_its_share_of_a_nearly_spent_quota_waits_for_the_reset(
    harness: Harness,
) -> None:
    window = await harness.window()
    # Earlier today (through another replica) this account made 80 of the app's 100
    # fulfillment calls and another account 5: a fair share is 50.
    counter = CallCounter()
    orders = httpx.Request("GET", "https://api.ebay.com/sell/fulfillment/v1/order")
    for account_id, calls in ((window.account_id, 80), (window.account_id + 1, 5)):
        with calls_for(account_id):
            for _ in range(calls):
                await counter.on_request(orders)
    await CallLedger(harness.ledger_kv, counter, CallLedgerSettings()).flush()
    async with harness.http() as http:
        fetcher = await harness.fetcher(http, quotas=DailyQuotas(fulfillment=100))
        longest = seconds_until_quota_reset(utc_now())
        with pytest.raises(EbayQuotaError) as raised:
            await fetcher.fetch(window)
        shortest = seconds_until_quota_reset(utc_now())
    assert harness.offsets == []
    # It waits until the quota resets at midnight in California.
    assert raised.value.retry_after is not None
    assert shortest <= raised.value.retry_after <= longest
    # The handler hands it back for exactly that long, not a capped backoff.
    assert retry_delay(1, raised.value.retry_after) == raised.value.retry_after
    # The other account goes on.
    other = window.model_copy(update={"run_id": uuid.uuid4(), "account_id": window.account_id + 1})
    ledger = CallLedger(
        harness.ledger_kv, CallCounter(), CallLedgerSettings(quotas=DailyQuotas(fulfillment=100))
    )
    assert await ledger.check(other.family, other.account_id) == Go()


def quota_waits(family: Family, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "ebaysync_quota_waits_total", {"family": family, "reason": reason}
    )
    return value or 0.0


async def test_trading_518_pauses_the_family_of_that_account_until_the_quota_resets(
    harness: Harness,
) -> None:
    seller = harness.pipeline.sellers[0]
    now = await harness.pipeline.sandbox_now()
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=Family.ACTIVE_INVENTORY,
        window_from=None,
        window_to=now,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )
    await harness.pipeline.fault(seller, "quota_518", family="active_inventory", count=1)
    before = quota_waits(Family.ACTIVE_INVENTORY, "ebay")
    async with harness.http() as http:
        fetcher = await harness.fetcher(http)
        longest = seconds_until_quota_reset(utc_now())
        with pytest.raises(EbayQuotaError) as raised:
            await fetcher.fetch(window)
        shortest = seconds_until_quota_reset(utc_now())
    # Handed back until midnight in California (as the handler NAKs it: uncapped), at once.
    assert raised.value.retry_after is not None
    assert shortest <= raised.value.retry_after <= longest
    assert retry_delay(1, raised.value.retry_after) == raised.value.retry_after
    assert quota_waits(Family.ACTIVE_INVENTORY, "ebay") - before == 1
    assert harness.published == []
    # One Trading call, not retried in the page, and counted in the ledger.
    usage = await CallLedger(harness.ledger_kv, CallCounter(), CallLedgerSettings()).usage(
        EbayApi.TRADING, seller.account_id
    )
    assert (usage.api_calls, usage.account_calls) == (1, 1)
