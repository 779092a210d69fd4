"""The daily call ledger: the go/wait rule, request classification, and shared counts on NATS."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime
from typing import Any, cast

import httpx
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from common.ebay.errors import (
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
)
from common.ebay.quota import EbayApi
from common.families import Family
from common.ledger import (
    FAMILY_APIS,
    CallCounter,
    CallLedger,
    CallLedgerSettings,
    DailyQuotas,
    Go,
    Usage,
    Wait,
    api_of,
    calls_for,
    decide,
)
from common.redelivery import MAX_DELAY_SECONDS, retry_delay
from common.streams import BUCKETS, ensure_topology
from fetcher.service import is_retried_in_page

RESET = 3600.0


class TestDecide:
    def test_below_the_warning_threshold_everyone_goes(self) -> None:
        usage = Usage(api_calls=799, account_calls=799, active_accounts=2)
        assert decide(usage, quota=1000, warn_ratio=0.8, seconds_to_reset=RESET) == Go()

    def test_above_it_an_account_over_its_fair_share_waits_for_the_reset(self) -> None:
        # 4 accounts share 1,000 calls: 250 each.
        heavy = Usage(api_calls=850, account_calls=251, active_accounts=4)
        assert decide(heavy, 1000, 0.8, RESET) == Wait("share", RESET)

    def test_above_it_an_account_within_its_share_goes_on(self) -> None:
        light = Usage(api_calls=850, account_calls=250, active_accounts=4)
        assert decide(light, 1000, 0.8, RESET) == Go()
        newcomer = Usage(api_calls=850, account_calls=0, active_accounts=4)
        assert decide(newcomer, 1000, 0.8, RESET) == Go()

    def test_a_single_account_may_use_the_whole_quota(self) -> None:
        alone = Usage(api_calls=999, account_calls=999, active_accounts=1)
        assert decide(alone, 1000, 0.8, RESET) == Go()

    def test_once_the_quota_is_spent_everyone_waits(self) -> None:
        usage = Usage(api_calls=1000, account_calls=0, active_accounts=5)
        assert decide(usage, 1000, 0.8, RESET) == Wait("spent", RESET)


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/sell/fulfillment/v1/order", EbayApi.FULFILLMENT),
        ("/sell/fulfillment/v1/payment_dispute_summary", EbayApi.PAYMENT_DISPUTE),
        ("/sell/finances/v1/transaction", EbayApi.FINANCES),
        ("/sell/inventory/v1/offer", EbayApi.INVENTORY),
        ("/ws/api.dll", EbayApi.TRADING),
        ("/post-order/v2/return/search", EbayApi.POSTORDER_RETURNS),
        ("/commerce/identity/v1/user/", EbayApi.OTHER),
    ],
)
def test_requests_are_classified_by_path(path: str, api: EbayApi) -> None:
    assert api_of(path) is api


def test_every_family_has_an_api_and_every_api_a_quota_setting() -> None:
    assert set(FAMILY_APIS) == set(Family)
    assert set(DailyQuotas.model_fields) == {api.value for api in EbayApi} - {"other"}


class TestInPageRetries:
    def test_5xx_timeouts_drops_and_unreadable_bodies_are_retried_in_the_page(self) -> None:
        assert is_retried_in_page(EbayTransientError("HTTP 503", status=503))
        assert is_retried_in_page(EbayTransientError("ReadTimeout calling ..."))
        assert is_retried_in_page(EbayPayloadError("malformed JSON", status=200))

    def test_429_quota_and_permanent_errors_go_back_to_jetstream(self) -> None:
        assert not is_retried_in_page(EbayTransientError("HTTP 429", status=429, retry_after=5))
        assert not is_retried_in_page(EbayQuotaError("518", retry_after=3600))
        assert not is_retried_in_page(EbayRequestError("HTTP 400", status=400))


def test_a_quota_wait_is_honoured_as_it_is_and_backoff_stays_capped() -> None:
    # Hours until the quota resets are not cut to the backoff cap ...
    assert retry_delay(1, retry_after=7 * 3600.0) == 7 * 3600.0
    assert retry_delay(3, retry_after=0.2) == 1.0
    # ... but a nonsense Retry-After cannot park a window for days.
    assert retry_delay(1, retry_after=30 * 86400.0) == 25 * 3600.0
    assert retry_delay(20) == MAX_DELAY_SECONDS


# --- shared by replicas, on real NATS -----------------------------------------------------------

TODAY = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 10:00 in California


def clock() -> datetime:
    return TODAY


@pytest.fixture
async def ledger_kv(topology: JetStreamContext) -> KeyValue:
    """The call ledger bucket, empty."""
    with contextlib.suppress(NotFoundError):
        await topology.delete_stream(f"KV_{BUCKETS.call_ledger.bucket}")
    await ensure_topology(topology)
    return await topology.key_value(BUCKETS.call_ledger.bucket)


async def make_calls(counter: CallCounter, account_id: int, path: str, n: int) -> None:
    with calls_for(account_id):
        for _ in range(n):
            await counter.on_request(httpx.Request("GET", f"https://api.ebay.com{path}"))


@pytest.mark.nats
async def test_two_replicas_share_one_ledger_and_lose_no_count(ledger_kv: KeyValue) -> None:
    settings = CallLedgerSettings(quotas=DailyQuotas(fulfillment=1_000), warn_ratio=0.8)
    counters = [CallCounter(clock), CallCounter(clock)]
    replicas = [CallLedger(ledger_kv, counter, settings, clock) for counter in counters]
    orders = "/sell/fulfillment/v1/order"
    # Both replicas count calls for account 1, and flush at the same time, again and again:
    # compare-and-set must keep every call.
    for _ in range(5):
        await make_calls(counters[0], 1, orders, 3)
        await make_calls(counters[1], 1, orders, 4)
        await make_calls(counters[1], 2, orders, 1)
        await asyncio.gather(*(ledger.flush() for ledger in replicas))
    for ledger in replicas:
        usage = await ledger.usage(EbayApi.FULFILLMENT, 1, date(2026, 3, 2))
        assert usage == Usage(api_calls=40, account_calls=35, active_accounts=2)
    # Counted under today's Pacific date, per API.
    assert (await ledger_kv.get("2026-03-02.fulfillment.account.2")).value == b"5"


@pytest.mark.nats
async def test_a_heavy_account_waits_for_the_reset_while_the_others_go_on(
    ledger_kv: KeyValue,
) -> None:
    settings = CallLedgerSettings(quotas=DailyQuotas(fulfillment=100), warn_ratio=0.8)
    counter = CallCounter(clock)
    ledger = CallLedger(ledger_kv, counter, settings, clock)
    orders = "/sell/fulfillment/v1/order"
    await make_calls(counter, 1, orders, 70)
    await make_calls(counter, 2, orders, 10)
    await ledger.flush()
    # Another replica's view: 80 of 100 calls used, fair share 50.
    other = CallLedger(ledger_kv, CallCounter(clock), settings, clock)
    assert await other.check(Family.ORDERS, 2) == Go()
    # Midnight in California is 08:00 UTC, 14 hours after TODAY.
    assert await other.check(Family.ORDERS, 1) == Wait("share", 14 * 3600.0)
    # Other APIs' quotas are untouched.
    assert await other.check(Family.FINANCES, 1) == Go()
    await make_calls(counter, 2, orders, 20)
    await ledger.flush()
    assert await other.check(Family.ORDERS, 2) == Wait("spent", 14 * 3600.0)


class CountedReads:
    """The real bucket, counting the reads made through it."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.reads = 0

    async def get(self, key: str) -> KeyValue.Entry:
        self.reads += 1
        return await self.kv.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kv, name)


@pytest.mark.nats
async def test_a_replica_updates_from_what_it_last_wrote_and_reads_only_after_another_wrote(
    ledger_kv: KeyValue,
) -> None:
    settings = CallLedgerSettings(quotas=DailyQuotas(fulfillment=1_000), warn_ratio=0.8)
    counters = [CallCounter(clock), CallCounter(clock)]
    bucket = CountedReads(ledger_kv)
    ledger = CallLedger(cast(KeyValue, bucket), counters[0], settings, clock)
    other = CallLedger(ledger_kv, counters[1], settings, clock)
    orders = "/sell/fulfillment/v1/order"
    await make_calls(counters[0], 1, orders, 2)
    await ledger.flush()  # new keys: each is looked for once, then created
    first = bucket.reads
    await make_calls(counters[0], 1, orders, 3)
    await ledger.flush()
    assert bucket.reads == first  # its own last writes: no read
    await make_calls(counters[1], 1, orders, 4)
    await other.flush()
    await make_calls(counters[0], 1, orders, 1)
    await ledger.flush()
    assert bucket.reads == first + 2  # the account's and the total's update refused: read again
    usage = await other.usage(EbayApi.FULFILLMENT, 1, date(2026, 3, 2))
    assert usage == Usage(api_calls=10, account_calls=10, active_accounts=1)


class CountedRequests(CountedReads):
    """The real bucket, counting reads and writes made through it."""

    def __init__(self, kv: KeyValue) -> None:
        super().__init__(kv)
        self.writes = 0

    async def create(self, key: str, value: bytes) -> int:
        self.writes += 1
        return await self.kv.create(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        self.writes += 1
        return await self.kv.update(key, value, last=last)

    @property
    def requests(self) -> int:
        return self.reads + self.writes


async def stored_total(kv: KeyValue, api: str = "fulfillment") -> int:
    return int((await kv.get(f"2026-03-02.{api}.total")).value or b"0")


@pytest.mark.nats
async def test_far_below_the_warning_share_counts_go_out_once_per_interval_and_checks_read_none(
    ledger_kv: KeyValue,
) -> None:
    settings = CallLedgerSettings(quotas=DailyQuotas(fulfillment=1_000), flush_seconds=0.5)
    counter = CallCounter(clock)
    bucket = CountedRequests(ledger_kv)
    ledger = CallLedger(cast(KeyValue, bucket), counter, settings, clock)
    orders = "/sell/fulfillment/v1/order"
    await make_calls(counter, 1, orders, 2)
    await ledger.flush_if_due()  # the first: the API's total is not known yet
    assert await stored_total(ledger_kv) == 2
    before = bucket.requests
    # Windows within the interval: no KV request of their own, neither check nor flush.
    for _ in range(3):
        assert await ledger.check(Family.ORDERS, 1) == Go()
        await make_calls(counter, 1, orders, 1)
        await ledger.flush_if_due()
    assert bucket.requests == before
    assert await stored_total(ledger_kv) == 2
    await asyncio.sleep(0.6)
    # The interval passed: the next page stores every count kept, and a check reads again.
    await ledger.flush_if_due()
    assert await stored_total(ledger_kv) == 5
    await asyncio.sleep(0.6)
    reads = bucket.reads
    assert await ledger.check(Family.ORDERS, 1) == Go()
    assert bucket.reads == reads + 1


@pytest.mark.nats
async def test_near_the_quota_every_page_stores_its_counts_and_every_check_reads(
    ledger_kv: KeyValue,
) -> None:
    settings = CallLedgerSettings(
        quotas=DailyQuotas(fulfillment=10), warn_ratio=0.8, flush_seconds=3600
    )
    counter = CallCounter(clock)
    bucket = CountedRequests(ledger_kv)
    ledger = CallLedger(cast(KeyValue, bucket), counter, settings, clock)
    orders = "/sell/fulfillment/v1/order"
    await make_calls(counter, 1, orders, 8)
    await ledger.flush_if_due()
    # 8 of 10: at the warning share. Each page's count goes out at once ...
    await make_calls(counter, 1, orders, 1)
    await ledger.flush_if_due()
    assert await stored_total(ledger_kv) == 9
    # ... and each check reads the total (and the account's counts), seeing another replica's.
    others = CallCounter(clock)
    other = CallLedger(ledger_kv, others, settings, clock)
    await make_calls(others, 2, orders, 1)
    await other.flush()
    reads = bucket.reads
    assert await ledger.check(Family.ORDERS, 1) == Wait("spent", 14 * 3600.0)
    assert bucket.reads > reads


@pytest.mark.nats
async def test_counts_kept_in_memory_are_stored_without_a_window_and_at_close(
    ledger_kv: KeyValue,
) -> None:
    settings = CallLedgerSettings(quotas=DailyQuotas(fulfillment=1_000), flush_seconds=0.2)
    counter = CallCounter(clock)
    ledger = CallLedger(ledger_kv, counter, settings, clock)
    orders = "/sell/fulfillment/v1/order"
    await make_calls(counter, 1, orders, 1)
    await ledger.flush_if_due()
    await make_calls(counter, 1, orders, 2)
    await ledger.flush_if_due()  # within the interval: kept
    assert await stored_total(ledger_kv) == 1
    flushing = asyncio.create_task(ledger.keep_flushing())
    try:
        await asyncio.sleep(0.5)
        assert await stored_total(ledger_kv) == 3  # the last window's counts, in a quiet spell
    finally:
        flushing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flushing
    await make_calls(counter, 1, orders, 4)
    await ledger.close()
    assert await stored_total(ledger_kv) == 7
    # A window still finishing after close stores its counts at once.
    await make_calls(counter, 1, orders, 1)
    await ledger.flush_if_due()
    assert await stored_total(ledger_kv) == 8
