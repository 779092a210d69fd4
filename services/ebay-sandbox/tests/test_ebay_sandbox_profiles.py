"""Size profiles and speed: huge sellers are generated lazily, pages are cached, rates reported."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from testkit.sandbox_client import iso

Login = Any  # conftest.Login
TradingFn = Any  # conftest.TradingFn
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def active_list(page: int, per_page: int = 200) -> str:
    return (
        f"<ActiveList><Sort>ItemID</Sort><Pagination><EntriesPerPage>{per_page}</EntriesPerPage>"
        f"<PageNumber>{page}</PageNumber></Pagination></ActiveList>"
    )


async def work(client: httpx.AsyncClient) -> dict[str, int]:
    """What the sandbox has generated so far (``GET /sandbox/stats``)."""
    work: dict[str, int] = (await client.get("/sandbox/stats")).json()["work"]
    return work


@pytest.mark.parametrize(
    "config_overrides",
    [{"sellers": 2, "profile": "huge,tiny", "orders_per_day": None, "history_days": None}],
)
async def test_huge_seller(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    trading: TradingFn,
) -> None:
    # The work is counted (entities the sandbox built), not timed: bench_sandbox times it.
    sellers = (await client.get("/sandbox/sellers")).json()
    assert [s["profile"] for s in sellers] == ["huge", "tiny"]
    assert await work(client) == {"worlds": 0, "entities_built": 0}, "nothing up front"
    tokens = await login()

    first = await trading("GetMyeBaySelling", active_list(1), token=tokens.access_token)
    total = int(first.text("ActiveList/PaginationResult/TotalNumberOfEntries") or 0)
    assert 24_000 < total <= 25_000
    assert first.text("ActiveList/PaginationResult/TotalNumberOfPages") == str(-(-total // 200))
    assert len(first.findall("ActiveList/ItemArray/Item")) == 200
    pages = int(first.text("ActiveList/PaginationResult/TotalNumberOfPages") or 0)
    listed = await work(client)
    assert listed["worlds"] == 1, "only the seller asked about"
    for page in (2, 60, pages):
        reply = await trading("GetMyeBaySelling", active_list(page), token=tokens.access_token)
        assert reply.findall("ActiveList/ItemArray/Item")
    assert await work(client) == listed, "later pages build nothing again"

    # Years of orders: a one-day lastmodifieddate window of a three-year history.
    window = f"lastmodifieddate:[{iso(START - timedelta(days=1))}..{iso(START)}]"
    resp = await client.get(
        "/sell/fulfillment/v1/order",
        params={"filter": window, "limit": "200"},
        headers=tokens.headers,
    )
    body = resp.json()
    assert body["total"] > 200 and len(body["orders"]) == 200
    windowed = await work(client)
    resp = await client.get(body["next"], headers=tokens.headers)
    assert resp.status_code == 200 and resp.json()["offset"] == 200
    assert await work(client) == windowed, "the next page builds nothing again"
    day = f"creationdate:[{iso(START - timedelta(days=700))}..{iso(START - timedelta(days=699))}]"
    old = (
        await client.get(
            "/sell/fulfillment/v1/order", params={"filter": day}, headers=tokens.headers
        )
    ).json()
    assert old["total"] > 100, "two years of history"


@pytest.mark.parametrize(
    "config_overrides", [{"sellers": 1, "listings": 26_000, "orders_per_day": 1}]
)
async def test_active_list_stops_at_25000_items(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], trading: TradingFn
) -> None:
    token = (await login()).access_token
    first = await trading("GetMyeBaySelling", active_list(1), token=token)
    total = int(first.text("ActiveList/PaginationResult/TotalNumberOfEntries") or 0)
    assert total > 25_000, "the true count is reported"
    assert first.text("ActiveList/PaginationResult/TotalNumberOfPages") == "125"
    last = await trading("GetMyeBaySelling", active_list(125), token=token)
    assert len(last.findall("ActiveList/ItemArray/Item")) == 200
    beyond = await trading("GetMyeBaySelling", active_list(126), token=token)
    assert beyond.ack == "Success" and not beyond.findall("ActiveList/ItemArray/Item")
    pages = await trading("GetMyeBaySelling", active_list(1, per_page=100), token=token)
    assert pages.text("ActiveList/PaginationResult/TotalNumberOfPages") == "250"


async def test_pages_are_cached_and_rates_reported(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    for _ in range(5):
        resp = await client.get(
            "/sell/finances/v1/transaction", params={"limit": "50"}, headers=tokens.headers
        )
        assert resp.status_code == 200
    stats = (await client.get("/sandbox/stats")).json()
    assert stats["endpoints"]["GET getTransactions"] == 5
    assert stats["caches"]["pages"]["hits"] >= 4
    assert stats["requests"] >= 7 and stats["rate_per_second"] > 0
    assert stats["recent_rate_per_second"] > 0
    assert stats["statuses"]["200"] >= 6


@pytest.mark.parametrize("config_overrides", [{"entity_cache": 500, "orders_per_day": 100}])
async def test_memory_stays_bounded(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    url = "/sell/fulfillment/v1/order"
    page = (await client.get(url, params={"limit": "200"}, headers=tokens.headers)).json()
    while "next" in page:
        page = (await client.get(page["next"], headers=tokens.headers)).json()
    assert page["total"] > 5_000
    stats = (await client.get("/sandbox/stats")).json()
    assert stats["caches"]["rendered_entities"] <= 500
