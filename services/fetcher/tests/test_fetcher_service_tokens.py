"""The fetcher against the sandbox, the real token service and real JetStream: the token cache
and the cost of a caught-up window (issue 12 items 3 and 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nats.js.errors import KeyNotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository
from common.ebay.fulfillment import FulfillmentClient
from common.families import Family
from common.ledger import CallCounter
from common.metrics import MetricsSettings
from common.settings import NatsSettings
from common.streams import BUCKETS
from fetcher.app import EbayHttpClients
from fetcher.checkpoints import CheckpointStore
from fetcher.service import WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.sources.orders import OrdersSource
from fetcher.tokens import TokenCachePolicy, TokenClient, TokenUnavailableError
from testkit import fetcher_env
from testkit.fetcher_env import PAGE_SIZE, Env

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


env = fetcher_env.env  # the fetcher's world (testkit.fetcher_env)


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
