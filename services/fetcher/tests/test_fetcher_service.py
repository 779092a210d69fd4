"""The fetcher against the sandbox over HTTP, the real token service and real JetStream."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import orjson
import pytest
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository
from common.ebay.fulfillment import FulfillmentClient
from common.ebay.scopes import SCOPE_STRING
from common.families import Family
from common.ledger import CallCounter
from common.messages import (
    ConnectAccount,
    ConnectAccountReply,
    PageBatch,
    SyncWindow,
    Trigger,
    WindowFailed,
    encoded,
)
from common.metrics import MetricsSettings
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from common.streams import BUCKETS, PAGES_STREAM, WINDOWS_STREAM
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from fetcher.app import EbayHttpClients
from fetcher.app import create_app as create_fetcher
from fetcher.checkpoints import CheckpointStore
from fetcher.service import WindowFetcher
from fetcher.settings import FetcherSettings, PageRetrySettings
from fetcher.sources.orders import OrdersSource
from fetcher.tokens import TokenCachePolicy, TokenClient, TokenUnavailableError
from testkit.factories import create_account
from testkit.sandbox import serve_sandbox
from testkit.waiting import eventually
from token_service.app import create_app as create_token_service
from token_service.crypto import generate_key
from token_service.settings import TokenServiceSettings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

CLIENT_ID, CLIENT_SECRET, RU_NAME = "fetch-SBX-client", "fetch-secret", "fetch-RuName"
PAGE_SIZE = 10


@dataclass
class Env:
    broker: NatsBroker
    js: JetStreamContext
    http: httpx.AsyncClient
    sandbox_url: str
    account_id: int
    username: str
    requested_offsets: list[int]

    async def fetcher(
        self, publish: Any = None, max_page_bytes: int = 900_000, tokens: TokenClient | None = None
    ) -> WindowFetcher:
        kv = await self.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
        source = OrdersSource(FulfillmentClient(self.http, self.sandbox_url), PAGE_SIZE)
        return WindowFetcher(
            tokens or TokenClient(self.broker, timeout=10),
            {Family.ORDERS: source},
            CheckpointStore(kv),
            publish or self.publish,
            max_page_bytes=max_page_bytes,
            max_passes=3,
        )

    async def publish(self, page: PageBatch) -> None:
        await self.js.publish(
            page.subject,
            page.model_dump_json().encode(),
            stream=PAGES_STREAM,
            headers={"Nats-Msg-Id": page.message_id},
        )

    async def published(self, run_id: uuid.UUID) -> list[PageBatch]:
        subject = f"{PageBatch.SUBJECT_PREFIX}.orders.{self.account_id}"
        info = await self.js.stream_info(PAGES_STREAM)
        pages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg(PAGES_STREAM, seq)
            if msg.subject == subject:
                page = PageBatch.model_validate_json(msg.data or b"")
                if page.run_id == run_id:
                    pages.append(page)
        return pages

    async def ground_truth(self, window: SyncWindow) -> dict[str, dict[str, Any]]:
        assert window.window_from is not None
        response = await self.http.get(
            f"{self.sandbox_url}/sandbox/sellers/{self.username}/orders",
            params={
                "modified_from": window.window_from.isoformat(),
                "modified_to": window.window_to.isoformat(),
            },
        )
        return {o["orderId"]: o for o in response.json()["orders"]}

    def window(self, days: float = 30) -> SyncWindow:
        now = datetime.now(UTC) - timedelta(minutes=5)
        return SyncWindow(
            run_id=uuid.uuid4(),
            account_id=self.account_id,
            family=Family.ORDERS,
            window_from=now - timedelta(days=days),
            window_to=now,
            trigger=Trigger.MANUAL,
            issued_at=now,
        )


@pytest.fixture
async def env(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Env]:
    config = SandboxConfig(
        sellers=1,
        orders_per_day=4,
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
    )
    async with serve_sandbox(config) as sandbox_url:
        settings = TokenServiceSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(migrated_database_url)),
            ebay=EbayApiSettings(
                api_base_url=sandbox_url,
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
                ru_name=RU_NAME,
            ),
            metrics=MetricsSettings(port=0),
            keys={"k1": SecretStr(generate_key())},
            active_key_id="k1",
        )
        token_app: FastStream = create_token_service(settings)
        await token_app.start()
        offsets: list[int] = []

        async def record(request: httpx.Request) -> None:
            if request.url.path.endswith("/order"):
                offsets.append(int(request.url.params["offset"]))

        try:
            async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
                username = (await http.get(f"{sandbox_url}/sandbox/sellers")).json()[0]["username"]
                async with sessions.begin() as session:
                    account_id = (await create_account(session, username=username)).id
                async with httpx.AsyncClient(base_url=sandbox_url) as consent:
                    code = await approve_consent(
                        consent,
                        username=username,
                        client_id=CLIENT_ID,
                        ru_name=RU_NAME,
                        scopes=SCOPE_STRING,
                    )
                reply = await broker.request(
                    ConnectAccount(account_id=account_id, authorization_code=SecretStr(code)),
                    ConnectAccount.SUBJECT,
                    timeout=10,
                )
                assert ConnectAccountReply.model_validate_json(reply.body).connected
                yield Env(broker, topology, http, sandbox_url, account_id, username, offsets)
        finally:
            await token_app.stop()


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


# --- the cost of a caught-up window (issue 12 items 3 and 4) ----------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


CACHE = TokenCachePolicy(margin=timedelta(seconds=120), max_age=timedelta(days=1))


def cached_tokens(env: Env, clock: FakeClock, policy: TokenCachePolicy = CACHE) -> TokenClient:
    return TokenClient(env.broker, timeout=10, cache=policy, clock=clock)


class TestTheTokenCache:
    async def test_one_token_request_serves_every_window_of_the_account(self, env: Env) -> None:
        tokens = cached_tokens(env, FakeClock())
        fetcher = await env.fetcher(tokens=tokens)
        for _ in range(3):
            await fetcher.fetch(env.window(days=1 / 24))
        assert tokens.requests == 1

    async def test_the_token_is_asked_for_again_shortly_before_it_expires(self, env: Env) -> None:
        clock = FakeClock()
        tokens = cached_tokens(env, clock)
        fetcher = await env.fetcher(tokens=tokens)
        await fetcher.fetch(env.window(days=1 / 24))
        expires_at = (await tokens.access_token(env.account_id)).expires_at
        assert expires_at is not None and tokens.requests == 1
        clock.now = expires_at - CACHE.margin - timedelta(seconds=1)
        await fetcher.fetch(env.window(days=1 / 24))
        assert tokens.requests == 1
        clock.now = expires_at - CACHE.margin
        await fetcher.fetch(env.window(days=1 / 24))
        assert tokens.requests == 2

    async def test_a_token_eBay_refuses_is_dropped_and_asked_for_once(self, env: Env) -> None:
        tokens = cached_tokens(env, FakeClock())
        fetcher = await env.fetcher(tokens=tokens)
        await fetcher.fetch(env.window(days=1 / 24))
        refused = (await tokens.access_token(env.account_id)).token
        await env.http.post(
            f"{env.sandbox_url}/sandbox/tokens/revoke", json={"token": refused.get_secret_value()}
        )
        window = env.window(days=1 / 24)
        await fetcher.fetch(window)
        assert [p.page_count for p in await env.published(window.run_id)] == [1]
        assert tokens.requests == 2
        fresh = (await tokens.access_token(env.account_id)).token
        assert fresh.get_secret_value() != refused.get_secret_value()
        await fetcher.fetch(env.window(days=1 / 24))
        assert tokens.requests == 2  # the fresh one is kept in turn

    async def test_a_revoked_account_stops_at_the_next_401(
        self, env: Env, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """The seller revokes at eBay (its tokens die there) and eBay tells us (the webhook
        deletes the stored tokens): the cached token gets a 401, the token service knows the
        account no more, and the window fails for good."""
        tokens = cached_tokens(env, FakeClock())
        fetcher = await env.fetcher(tokens=tokens)
        await fetcher.fetch(env.window(days=1 / 24))
        cached = (await tokens.access_token(env.account_id)).token
        await env.http.post(
            f"{env.sandbox_url}/sandbox/tokens/revoke", json={"token": cached.get_secret_value()}
        )
        await revoke(sessions, env.account_id)
        with pytest.raises(TokenUnavailableError) as raised:
            await fetcher.fetch(env.window(days=1 / 24))
        assert raised.value.is_permanent

    async def test_a_revocation_eBay_does_not_enforce_stops_within_the_max_age(
        self, env: Env, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        clock = FakeClock()
        policy = TokenCachePolicy(margin=timedelta(seconds=120), max_age=timedelta(minutes=10))
        tokens = cached_tokens(env, clock, policy)
        fetcher = await env.fetcher(tokens=tokens)
        await fetcher.fetch(env.window(days=1 / 24))
        await revoke(sessions, env.account_id)
        clock.now += timedelta(minutes=9)
        await fetcher.fetch(env.window(days=1 / 24))  # still the cached token, still valid
        assert tokens.requests == 1
        clock.now += timedelta(minutes=1)
        with pytest.raises(TokenUnavailableError) as raised:
            await fetcher.fetch(env.window(days=1 / 24))
        assert raised.value.is_permanent
        # An error is never cached: every later window asks again.
        with pytest.raises(TokenUnavailableError):
            await fetcher.fetch(env.window(days=1 / 24))
        assert tokens.requests == 3


async def revoke(sessions: async_sessionmaker[AsyncSession], account_id: int) -> None:
    async with sessions.begin() as session:
        accounts = AccountRepository(session)
        account = await accounts.get(account_id)
        assert account is not None
        await accounts.revoke(account, datetime.now(UTC))


async def test_a_one_page_window_writes_no_checkpoint_yet_a_redelivery_doubles_nothing(
    env: Env,
) -> None:
    kv = await env.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
    window = env.window(days=1 / 24)
    await (await env.fetcher()).fetch(window)
    with pytest.raises(KeyNotFoundError):
        await kv.get(str(window.run_id))
    # Redelivered after a crash before the ack: the page goes out again under its message id,
    # which JetStream drops (and after the duplicate window, the writer's page receipt).
    await (await env.fetcher()).fetch(window)
    pages = await env.published(window.run_id)
    assert [(p.page_no, p.page_count) for p in pages] == [(1, 1)]


async def test_one_pooled_client_per_ebay_host_is_reused_across_windows(env: Env) -> None:
    settings = FetcherSettings(
        nats=NatsSettings(url="nats://unused"), metrics=MetricsSettings(port=0)
    )
    clients = EbayHttpClients(settings, CallCounter())
    api = clients(env.sandbox_url)
    assert clients(f"{env.sandbox_url}/") is api
    assert clients("https://apiz.ebay.com") is not api
    kv = await env.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
    fetcher = WindowFetcher(
        TokenClient(env.broker, timeout=10),
        {Family.ORDERS: OrdersSource(FulfillmentClient(api, env.sandbox_url), PAGE_SIZE)},
        CheckpointStore(kv),
        env.publish,
        max_page_bytes=900_000,
        max_passes=3,
    )
    try:
        for _ in range(3):
            await fetcher.fetch(env.window(days=1 / 24))
        # Three windows, one after the other, over one kept-alive connection.
        assert len(api._transport._pool.connections) == 1  # type: ignore[attr-defined]
    finally:
        await clients.aclose()
    assert api.is_closed
