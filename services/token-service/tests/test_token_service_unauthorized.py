"""The 401 path against the sandbox: a token eBay revoked early is refreshed once and the page
succeeds; a refused refresh token parks the account for reauth and drops its windows, with one
attempt at eBay — not a retry storm."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import partial

import pytest
from faststream import FastStream
from nats.js import JetStreamContext
from sqlalchemy import select

from common.db.accounts import EbayAccount
from common.db.orders import EbayOrder
from common.db.tokens import TokenRefreshLog
from common.families import Family
from common.messages import SyncWindow, Trigger
from common.metrics import MetricsSettings
from common.settings import NatsSettings
from common.streams import FETCHER_DURABLE, WINDOWS_STREAM
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from fetcher.app import create_app as create_fetcher
from fetcher.settings import FetcherSettings
from fetcher.tokens import TokenUnavailableError
from scheduler.service import window_publisher
from testkit.pipeline import Pipeline, Seller, pipeline_fixture
from testkit.waiting import eventually
from token_service.oauth import TOKEN_PATH

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

TOKEN_ENDPOINT = f"POST {TOKEN_PATH}"


pipeline = pipeline_fixture(
    SandboxConfig(sellers=1, profile="tiny", orders_per_day=5, clock_frozen=True)
)


async def token_endpoint_calls(pipeline: Pipeline) -> int:
    stats = (await pipeline.http.get(f"{pipeline.sandbox_url}/sandbox/stats")).json()
    return int(stats["endpoints"].get(TOKEN_ENDPOINT, 0))


async def refresh_log(pipeline: Pipeline, seller: Seller) -> list[tuple[str, str]]:
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(TokenRefreshLog)
            .where(TokenRefreshLog.account_id == seller.account_id)
            .order_by(TokenRefreshLog.id)
        )
        return [(r.reason, r.outcome) for r in rows]


async def orders_window(pipeline: Pipeline, seller: Seller) -> SyncWindow:
    now = await pipeline.sandbox_now()
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=seller.account_id,
        family=Family.ORDERS,
        window_from=now - timedelta(days=20),
        window_to=now,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )


async def test_an_access_token_revoked_by_eBay_is_refreshed_once_and_the_page_succeeds(
    pipeline: Pipeline,
) -> None:
    seller = pipeline.sellers[0]
    revoked = (await pipeline.tokens.access_token(seller.account_id)).token
    response = await pipeline.http.post(
        f"{pipeline.sandbox_url}/sandbox/tokens/revoke",
        json={"token": revoked.get_secret_value()},
    )
    response.raise_for_status()
    before = await token_endpoint_calls(pipeline)

    window = await pipeline.sync(seller, Family.ORDERS, *await window_bounds(pipeline))

    assert await token_endpoint_calls(pipeline) - before == 1
    assert await refresh_log(pipeline, seller) == [("connect", "ok"), ("forced", "ok")]
    truth = TRUTHS[Family.ORDERS]
    body = await pipeline.truth(
        seller, truth.path, date_from=window.window_from, date_to=window.window_to
    )
    expected = {truth.key(r): r for r in truth.records(body.content)}
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(EbayOrder).where(EbayOrder.account_id == seller.account_id)
        )
        mirrored = {row.order_id: row.payload for row in rows}
    assert expected and mirrored == expected
    # The next window uses the refreshed token: no more refreshes.
    await pipeline.sync(seller, Family.ORDERS, *await window_bounds(pipeline))
    assert await token_endpoint_calls(pipeline) - before == 1


async def window_bounds(pipeline: Pipeline) -> tuple[datetime, datetime]:
    now = await pipeline.sandbox_now()
    return now - timedelta(days=20), now


async def test_a_refused_refresh_token_parks_the_account_and_drops_its_windows_after_one_try(
    pipeline: Pipeline, nats_url: str, topology: JetStreamContext
) -> None:
    seller = pipeline.sellers[0]
    # eBay revokes the seller's consent: the next call gets a 401, and the refresh token the
    # token service then offers is refused (invalid_grant).
    await pipeline.fault(seller, "revoked_token", family="orders")
    before = await token_endpoint_calls(pipeline)
    fetcher: FastStream = create_fetcher(
        FetcherSettings(
            nats=NatsSettings(url=nats_url),
            ebay=pipeline.fetcher_settings.ebay,
            metrics=MetricsSettings(port=0),
        )
    )
    await fetcher.start()
    try:
        publish = window_publisher(pipeline.broker, timeout=10)
        # The first window meets the revoked token; the second finds the account parked.
        for handled in (1, 2):
            assert await publish([await orders_window(pipeline, seller)])
            await eventually(
                partial(window_settled, topology, handled),
                within=60,
                what="the fetcher finished with the window (acked or dropped, not redelivered)",
            )
    finally:
        await fetcher.stop()

    assert await token_endpoint_calls(pipeline) - before == 1
    assert await refresh_log(pipeline, seller) == [("connect", "ok"), ("forced", "invalid_grant")]
    async with pipeline.sessions() as session:
        account = await session.get(EbayAccount, seller.account_id)
        assert account is not None and account.needs_reauth
    # Dropped for good: nothing waits for a redelivery, nothing was redelivered.
    info = await topology.consumer_info(WINDOWS_STREAM, FETCHER_DURABLE)
    assert info.num_redelivered == 0
    assert info.delivered.consumer_seq == 2
    # Asked directly, the account stays parked without another call to eBay.
    with pytest.raises(TokenUnavailableError) as refused:
        await pipeline.tokens.access_token(seller.account_id, force_refresh=True)
    assert refused.value.is_permanent
    assert await token_endpoint_calls(pipeline) - before == 1


async def window_settled(js: JetStreamContext, handled: int) -> bool:
    """The fetcher took ``handled`` windows and holds none: a window it wanted to retry would
    stay pending (a delayed nak) instead."""
    info = await js.consumer_info(WINDOWS_STREAM, FETCHER_DURABLE)
    return (
        info.num_pending == 0
        and info.num_ack_pending == 0
        and (info.delivered.consumer_seq or 0) >= handled
    )
