"""Ground truth equals what a client collects by walking the API's pages, for every family."""

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from testkit.sandbox_client import iso

Json = dict[str, Any]
Login = Any  # conftest.Login
TradingFn = Any  # conftest.TradingFn
NS = "{urn:ebay:apis:eBLBaseComponents}"
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def truth(
    client: httpx.AsyncClient, family: str, username: str = "sandbox_seller_1", **params: str
) -> httpx.Response:
    resp = await client.get(f"/sandbox/sellers/{username}/{family}", params=params)
    assert resp.status_code == 200, resp.text
    return resp


async def walk(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], key: str, **params: str
) -> list[Json]:
    """Follow ``next`` to the end."""
    resp = await client.get(url, params=params, headers=headers)
    if resp.status_code == 204:
        return []
    assert resp.status_code == 200, resp.text
    page = resp.json()
    items: list[Json] = list(page[key])
    while "next" in page:
        resp = await client.get(page["next"], headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items += page[key]
    assert len(items) == page["total"]
    return items


@pytest.mark.parametrize(
    ("family", "url", "key", "params"),
    [
        ("transactions", "/sell/finances/v1/transaction", "transactions", {"limit": "1000"}),
        ("payouts", "/sell/finances/v1/payout", "payouts", {"limit": "200"}),
        ("inventory_items", "/sell/inventory/v1/inventory_item", "inventoryItems", {"limit": "7"}),
        (
            "payment_disputes",
            "/sell/fulfillment/v1/payment_dispute_summary",
            "paymentDisputeSummaries",
            {"limit": "3"},
        ),
    ],
)
@pytest.mark.parametrize("config_overrides", [{"orders_per_day": 40}])
async def test_rest_families(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    family: str,
    url: str,
    key: str,
    params: dict[str, str],
) -> None:
    tokens = await login()
    expected = (await truth(client, family)).json()[key]
    assert expected
    assert await walk(client, url, tokens.headers, key, **params) == expected


async def test_date_windows_match(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    low, high = iso(START - timedelta(days=20)), iso(START - timedelta(days=10))
    expected = (
        await truth(client, "transactions", transaction_date_from=low, transaction_date_to=high)
    ).json()
    walked = await walk(
        client,
        "/sell/finances/v1/transaction",
        tokens.headers,
        "transactions",
        filter=f"transactionDate:[{low}..{high}]",
        limit="50",
    )
    assert walked == expected["transactions"] and walked
    expected = (await truth(client, "payouts", date_from=low, date_to=high)).json()
    walked = await walk(
        client,
        "/sell/finances/v1/payout",
        tokens.headers,
        "payouts",
        filter=f"payoutDate:[{low}..{high}]",
    )
    assert walked == expected["payouts"] and len(walked) == 10


async def test_offers(client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]) -> None:
    tokens = await login()
    expected = (await truth(client, "offers")).json()["offers"]
    items = await walk(
        client, "/sell/inventory/v1/inventory_item", tokens.headers, "inventoryItems"
    )
    collected = []
    for item in items:
        resp = await client.get(
            "/sell/inventory/v1/offer", params={"sku": item["sku"]}, headers=tokens.headers
        )
        if resp.status_code == 404:
            assert resp.json()["errors"][0]["errorId"] == 25713
            continue
        collected += resp.json()["offers"]
    assert collected == expected and len(collected) < len(items), "drafts have no offer"


@pytest.mark.parametrize(
    ("family", "resource"),
    [("returns", "return"), ("cases", "casemanagement"), ("inquiries", "inquiry")],
)
async def test_post_order_families(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], family: str, resource: str
) -> None:
    tokens = await login()
    expected = (await truth(client, family)).json()["members"]
    members: list[Json] = []
    offset = 0
    while True:
        page = (
            await client.get(
                f"/post-order/v2/{resource}/search",
                params={"limit": "4", "offset": str(offset)},
                headers=tokens.iaf,
            )
        ).json()
        members += page["members"]
        offset += 4
        if offset >= page["paginationOutput"]["totalEntries"]:
            break
    assert members == expected and expected


def _xml(body: bytes, path: str) -> list[bytes]:
    root = ET.fromstring(body)
    return [ET.tostring(e) for e in root.findall("/".join(NS + p for p in path.split("/")))]


@pytest.mark.parametrize(
    ("family", "call", "container", "item_path", "extra"),
    [
        (
            "active_listings",
            "GetMyeBaySelling",
            "ActiveList",
            "ActiveList/ItemArray/Item",
            "<Sort>ItemID</Sort>",
        ),
        (
            "purchases",
            "GetMyeBayBuying",
            "WonList",
            "WonList/OrderTransactionArray/OrderTransaction",
            "",
        ),
    ],
)
async def test_trading_paged_families(
    client: httpx.AsyncClient,
    trading: TradingFn,
    login: Callable[..., Awaitable[Login]],
    family: str,
    call: str,
    container: str,
    item_path: str,
    extra: str,
) -> None:
    token = (await login()).access_token
    expected = _xml((await truth(client, family)).content, item_path)
    collected: list[bytes] = []
    page = 1
    while True:
        inner = (
            f"<{container}>{extra}<Pagination><EntriesPerPage>6</EntriesPerPage>"
            f"<PageNumber>{page}</PageNumber></Pagination></{container}>"
        )
        reply = await trading(call, inner, token=token)
        collected += _xml(reply.body, item_path)
        if page >= int(reply.text(f"{container}/PaginationResult/TotalNumberOfPages") or 0):
            break
        page += 1
    if family == "purchases":  # newest first; the ground truth lists them the same way
        assert collected == expected
    else:
        assert sorted(collected) == sorted(expected)
    assert expected


async def test_messages(
    client: httpx.AsyncClient, trading: TradingFn, login: Callable[..., Awaitable[Login]]
) -> None:
    token = (await login()).access_token
    low, high = iso(START - timedelta(days=3)), iso(START - timedelta(days=1))
    expected = _xml(
        (await truth(client, "messages", receive_date_from=low, receive_date_to=high)).content,
        "Messages/Message",
    )
    window = f"<StartTime>{low}</StartTime><EndTime>{high}</EndTime>"
    summary = await trading(
        "GetMyMessages", "<DetailLevel>ReturnSummary</DetailLevel>", token=token
    )
    headers: list[bytes] = []
    for folder in summary.findall("Summary/FolderSummary/FolderID"):
        page = 1
        while True:
            inner = (
                f"<DetailLevel>ReturnHeaders</DetailLevel><FolderID>{folder.text}</FolderID>"
                f"{window}<Pagination><EntriesPerPage>5</EntriesPerPage>"
                f"<PageNumber>{page}</PageNumber></Pagination>"
            )
            reply = await trading("GetMyMessages", inner, token=token)
            found = _xml(reply.body, "Messages/Message")
            headers += found
            if len(found) < 5:
                break
            page += 1
    ids = [ET.fromstring(h).findtext(f"{NS}MessageID") or "" for h in headers]
    bodies: list[bytes] = []
    for i in range(0, len(ids), 10):
        inner = (
            "<DetailLevel>ReturnMessages</DetailLevel><MessageIDs>"
            + "".join(f"<MessageID>{m}</MessageID>" for m in ids[i : i + 10])
            + "</MessageIDs>"
        )
        bodies += _xml(
            (await trading("GetMyMessages", inner, token=token)).body, "Messages/Message"
        )
    # The truth lists every folder newest first; the walk went folder by folder.
    assert sorted(bodies) == sorted(expected) and len(expected) > 5
    assert len(set(bodies)) == len(bodies)


async def test_unknown_family_and_bad_dates(client: httpx.AsyncClient) -> None:
    assert (await client.get("/sandbox/sellers/sandbox_seller_1/colours")).status_code == 404
    assert (await client.get("/sandbox/sellers/nobody/transactions")).status_code == 404
    resp = await client.get(
        "/sandbox/sellers/sandbox_seller_1/cases", params={"date_from": "yesterday"}
    )
    assert resp.status_code == 422
