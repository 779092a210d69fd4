"""The fetcher against the sandbox over HTTP, the real token service and real JetStream: pages,
resumption, splitting, zombies and token-service outages. The token cache and the cost of a
caught-up window: test_fetcher_service_tokens."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import nats
import orjson
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from common.ebay.fulfillment import FulfillmentClient
from common.families import Family
from common.messages import (
    PageBatch,
    SyncWindow,
    Trigger,
    WindowFailed,
    encoded,
)
from common.metrics import MetricsSettings
from common.settings import NatsSettings
from common.streams import BUCKETS, WINDOWS_STREAM
from fetcher.app import create_app as create_fetcher
from fetcher.checkpoints import CheckpointStore
from fetcher.service import WindowFetcher
from fetcher.settings import FetcherSettings, PageRetrySettings
from fetcher.sources.orders import OrdersSource
from fetcher.tokens import TokenClient
from testkit import fetcher_env
from testkit.fetcher_env import PAGE_SIZE, Env
from testkit.waiting import eventually

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


env = fetcher_env.env  # the fetcher's world (testkit.fetcher_env)


async def test_a_window_is_published_page_by_page_and_holds_exactly_its_orders(env: Env) -> None:
    window = env.window()
    await (await env.fetcher()).fetch(window)
    pages = await env.published(window.run_id)
    expected = await env.ground_truth(window)
    assert len(expected) > 2 * PAGE_SIZE
    assert [p.page_no for p in pages] == list(range(1, len(pages) + 1))
    assert [p.page_count for p in pages] == [None] * (len(pages) - 1) + [len(pages)]
    fetched = [o for p in pages for o in p.records]
    assert len(fetched) == len(expected)
    assert {o["orderId"]: o for o in fetched} == expected


async def test_an_empty_window_still_publishes_its_last_page(env: Env) -> None:
    window = env.window(days=0)
    window = window.model_copy(update={"window_from": window.window_to - timedelta(seconds=1)})
    await (await env.fetcher()).fetch(window)
    pages = await env.published(window.run_id)
    assert [(p.page_no, p.page_count, p.records) for p in pages] == [(1, 1, [])]


async def test_a_redelivered_window_resumes_after_its_last_published_page(env: Env) -> None:
    window = env.window()

    class Crash(Exception):
        pass

    published = 0

    async def crash_after_two_pages(page: PageBatch) -> None:
        nonlocal published
        if published == 2:
            raise Crash
        published += 1
        await env.publish(page)

    with pytest.raises(Crash):
        await (await env.fetcher(crash_after_two_pages)).fetch(window)
    assert env.requested_offsets == [0, PAGE_SIZE, 2 * PAGE_SIZE]
    env.requested_offsets.clear()
    await (await env.fetcher()).fetch(window)
    # It starts at page 3, not at page one.
    assert env.requested_offsets[0] == 2 * PAGE_SIZE
    pages = await env.published(window.run_id)
    assert [p.page_no for p in pages] == list(range(1, len(pages) + 1))
    assert {o["orderId"] for p in pages for o in p.records} == set(await env.ground_truth(window))
    # Once done, a further redelivery fetches nothing at all.
    env.requested_offsets.clear()
    await (await env.fetcher()).fetch(window)
    assert env.requested_offsets == []


async def test_oversized_pages_are_split_under_the_message_limit(env: Env) -> None:
    window = env.window()
    await (await env.fetcher(max_page_bytes=5_000)).fetch(window)
    pages = await env.published(window.run_id)
    assert len(pages) > len(env.requested_offsets)  # eBay pages were split
    for page in pages:
        assert sum(len(orjson.dumps(r)) + 1 for r in page.records) <= 5_000
    assert {o["orderId"] for p in pages for o in p.records} == set(await env.ground_truth(window))


# --- zombies and token-service outages (issue 16 item 11) -----------------------------


async def test_a_zombie_fetcher_stops_before_its_next_ebay_call(env: Env) -> None:
    window = env.window()
    kv = await env.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
    paused, resume = asyncio.Event(), asyncio.Event()
    zombie_calls: list[int] = []

    async def pause_at_page_three(request: httpx.Request) -> None:
        offset = int(request.url.params.get("offset", 0))
        zombie_calls.append(offset)
        if offset == 2 * PAGE_SIZE and not resume.is_set():
            paused.set()  # as a SIGSTOP between two pages would
            await resume.wait()

    async with httpx.AsyncClient(event_hooks={"request": [pause_at_page_three]}) as http:
        zombie = WindowFetcher(
            TokenClient(env.broker, timeout=10),
            {Family.ORDERS: OrdersSource(FulfillmentClient(http, env.sandbox_url), PAGE_SIZE)},
            CheckpointStore(kv),
            env.publish,
            max_page_bytes=900_000,
            max_passes=3,
        )
        zombie_run = asyncio.create_task(zombie.fetch(window))
        await asyncio.wait_for(paused.wait(), timeout=30)
        # JetStream redelivers the window to another replica, which finishes it.
        await (await env.fetcher()).fetch(window)
        finished = await kv.get(str(window.run_id))
        pages_before = await env.published(window.run_id)
        zombie_calls.clear()
        resume.set()
        assert await asyncio.wait_for(zombie_run, timeout=30) == 0
    # Only the call it was paused in goes out (counted before the pause): then it publishes
    # nothing, calls eBay no more and leaves the finished checkpoint alone.
    assert zombie_calls == []
    assert await env.published(window.run_id) == pages_before
    after = await kv.get(str(window.run_id))
    assert after.revision == finished.revision and after.value == finished.value


async def test_a_fetcher_resumed_after_the_window_was_finished_calls_nothing(env: Env) -> None:
    window = env.window()
    await (await env.fetcher()).fetch(window)
    env.requested_offsets.clear()
    assert await (await env.fetcher()).fetch(window) == 0
    assert env.requested_offsets == []


def a_window(account_id: int) -> SyncWindow:
    now = datetime.now(UTC) - timedelta(minutes=5)
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account_id,
        family=Family.ORDERS,
        window_from=now - timedelta(hours=1),
        window_to=now,
        trigger=Trigger.SCHEDULE,
        issued_at=now,
    )


async def test_a_missing_token_service_is_a_wait_not_a_failure(
    nats_url: str, topology: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    """No token service at all: every delivery waits (NAK with a delay); no failed attempt is
    reported to the circuit breaker and nothing is logged with a traceback."""
    failures: list[bytes] = []

    async def failed(msg: Msg) -> None:
        failures.append(msg.data)

    watcher = await nats.connect(nats_url)
    await watcher.subscribe(f"{WindowFailed.SUBJECT_PREFIX}.>", cb=failed)
    fetcher = create_fetcher(
        FetcherSettings(
            nats=NatsSettings(url=nats_url),
            metrics=MetricsSettings(port=0),
            token_timeout_seconds=1,
            page_retry=PageRetrySettings(attempts=2, initial_seconds=0.1, max_seconds=0.2),
        )
    )
    window = a_window(account_id=987_654)
    caplog.set_level(logging.WARNING, logger="fetcher")
    await fetcher.start()
    try:
        await topology.publish(
            window.subject,
            encoded(window),
            stream=WINDOWS_STREAM,
            headers={"Nats-Msg-Id": window.message_id},
        )

        async def waited_twice() -> bool:
            waits = [r for r in caplog.records if "token service unavailable" in r.getMessage()]
            return len(waits) >= 2

        await eventually(waited_twice, within=60, what="two deliveries waiting for tokens")
    finally:
        await fetcher.stop()
        await watcher.drain()
    assert failures == []
    assert not [r for r in caplog.records if r.name.startswith("fetcher") and r.exc_info]
    # Still in the work queue, waiting: not dead-lettered, not terminated.
    info = await topology.stream_info(WINDOWS_STREAM, subjects_filter=window.subject)
    assert (info.state.subjects or {}).get(window.subject) == 1
