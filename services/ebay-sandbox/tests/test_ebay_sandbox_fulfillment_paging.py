"""Fulfillment getOrders: paging, filters, bad requests, auth and the two-year horizon."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from testkit.sandbox_client import iso

ORDERS = "/sell/fulfillment/v1/order"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
Json = dict[str, Any]
Walk = Callable[..., Awaitable[list[Json]]]


def ids(orders: list[Json]) -> list[str]:
    return [o["orderId"] for o in orders]


def created(order: Json) -> datetime:
    return datetime.fromisoformat(order["creationDate"])


def modified(order: Json) -> datetime:
    return datetime.fromisoformat(order["lastModifiedDate"])


async def test_paging_walk_returns_every_order_once(
    client: httpx.AsyncClient, login: Any, truth: Any, walk_pages: Walk
) -> None:
    tokens = await login()
    walked = await walk_pages(tokens.headers, limit=37)
    assert len(set(ids(walked))) == len(walked)
    window = [o for o in await truth() if created(o) >= NOW - timedelta(days=90)]
    assert walked == window, "default window: last 90 days, newest first, same content"
    keys = [(-created(o).timestamp(), o["orderId"]) for o in walked]
    assert keys == sorted(keys)


async def test_page_links(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    flt = f"creationdate:[{iso(NOW - timedelta(days=10))}..]"
    params: dict[str, Any] = {"filter": flt, "limit": 10, "offset": 20}
    body = (await client.get(ORDERS, headers=tokens.headers, params=params)).json()
    assert body["limit"] == 10
    assert body["offset"] == 20
    assert len(body["orders"]) == 10
    nxt, prev = httpx.URL(body["next"]), httpx.URL(body["prev"])
    href = httpx.URL(body["href"])
    assert (href.params["offset"], nxt.params["offset"], prev.params["offset"]) == (
        "20",
        "30",
        "10",
    )
    assert nxt.params["filter"] == flt
    assert nxt.path == ORDERS
    assert "%5B" in body["next"], "brackets percent-encoded like eBay requires"
    last = body["total"] - 3
    body = (
        await client.get(
            ORDERS, headers=tokens.headers, params={"filter": flt, "limit": 10, "offset": last}
        )
    ).json()
    assert len(body["orders"]) == 3
    assert "next" not in body
    assert httpx.URL(body["prev"]).params["offset"] == str(last - 10)
    beyond = {"filter": flt, "limit": 10, "offset": body["total"] + 5}
    body = (await client.get(ORDERS, headers=tokens.headers, params=beyond)).json()
    assert body["orders"] == []
    assert "next" not in body


async def test_default_limit_is_50(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    body = (await client.get(ORDERS, headers=tokens.headers)).json()
    assert body["limit"] == 50
    assert len(body["orders"]) == 50
    assert body["offset"] == 0
    assert httpx.URL(body["next"]).params["offset"] == "50"


async def test_creationdate_filter(
    client: httpx.AsyncClient, login: Any, truth: Any, walk_pages: Walk
) -> None:
    tokens = await login()
    everything = await truth()
    start, end = NOW - timedelta(days=100), NOW - timedelta(days=40)
    flt = f"creationdate:[{iso(start)}..{iso(end)}]"
    walked = await walk_pages(tokens.headers, filter=flt, limit=200)
    assert walked == [o for o in everything if start <= created(o) <= end]
    # Bounds are inclusive to the millisecond.
    edge = everything[len(everything) // 2]
    exact = f"creationdate:[{edge['creationDate']}..{edge['creationDate']}]"
    assert ids(await walk_pages(tokens.headers, filter=exact)) == [edge["orderId"]]
    # Sub-millisecond digits round inward.
    micro = edge["creationDate"][:-1] + "001Z"
    assert await walk_pages(tokens.headers, filter=f"creationdate:[{micro}..]") == [
        o for o in everything if created(o) > created(edge)
    ]


async def test_lastmodifieddate_filter_matches_ground_truth(
    client: httpx.AsyncClient, login: Any, truth: Any, walk_pages: Walk
) -> None:
    tokens = await login()
    everything = await truth()
    start, end = NOW - timedelta(days=3), NOW - timedelta(hours=6)
    flt = f"lastmodifieddate:[{iso(start)}..{iso(end)}]"
    walked = await walk_pages(tokens.headers, filter=flt, limit=25)
    expected = [o for o in everything if start <= modified(o) <= end]
    assert walked == expected
    assert any(created(o) < start for o in walked), "old orders modified recently are included"
    ranged = await truth(modified_from=iso(start), modified_to=iso(end))
    assert ranged == expected
    open_end = await walk_pages(tokens.headers, filter=f"lastmodifieddate:[{iso(start)}..]")
    assert open_end == [o for o in everything if modified(o) >= start]
    open_start = await walk_pages(
        tokens.headers, filter=f"lastmodifieddate:[..{iso(end)}]", limit=200
    )
    assert open_start == [o for o in everything if modified(o) <= end]


async def test_creationdate_wins_over_lastmodifieddate(
    client: httpx.AsyncClient, login: Any, truth: Any, walk_pages: Walk
) -> None:
    tokens = await login()
    start = NOW - timedelta(days=5)
    flt = f"lastmodifieddate:[{iso(NOW - timedelta(hours=1))}..],creationdate:[{iso(start)}..]"
    walked = await walk_pages(tokens.headers, filter=flt)
    assert walked == [o for o in await truth() if created(o) >= start]


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("{NOT_STARTED|IN_PROGRESS}", {"NOT_STARTED", "IN_PROGRESS"}),
        ("{IN_PROGRESS|FULFILLED}", {"FULFILLED", "IN_PROGRESS"}),
    ],
)
async def test_fulfillment_status_filter(
    client: httpx.AsyncClient,
    login: Any,
    truth: Any,
    walk_pages: Walk,
    value: str,
    allowed: set[str],
) -> None:
    tokens = await login()
    start = NOW - timedelta(days=20)
    flt = f"creationdate:[{iso(start)}..],orderfulfillmentstatus:{value}"
    walked = await walk_pages(tokens.headers, filter=flt)
    expected = [
        o for o in await truth() if created(o) >= start and o["orderFulfillmentStatus"] in allowed
    ]
    assert walked == expected
    assert walked


async def test_order_ids_parameter(
    client: httpx.AsyncClient, login: Any, truth: Any, fulfillment_spec: Any
) -> None:
    tokens = await login()
    everything = await truth()
    other = (await truth("sandbox_seller_2"))[0]["orderId"]
    wanted = [everything[-1]["orderId"], everything[0]["orderId"], other, "99-99999-99999"]
    params = {"orderIds": ",".join(wanted), "limit": "1", "filter": "bogus"}
    resp = await client.get(ORDERS, headers=tokens.headers, params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    fulfillment_spec.validate("OrderSearchPagedCollection", body)
    assert ids(body["orders"]) == [everything[0]["orderId"], everything[-1]["orderId"]]
    assert body["total"] == 2
    assert [w["parameters"][0]["value"] for w in body["warnings"]] == [other, "99-99999-99999"]
    assert {w["errorId"] for w in body["warnings"]} == {32100}
    too_many = ",".join([everything[0]["orderId"]] * 51)
    resp = await client.get(ORDERS, headers=tokens.headers, params={"orderIds": too_many})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["errorId"] == 30900


@pytest.mark.parametrize(
    ("params", "error_id"),
    [
        ({"limit": "201"}, 31100),
        ({"limit": "0"}, 31100),
        ({"limit": "ten"}, 31100),
        ({"offset": "-1"}, 31000),
        ({"offset": "x"}, 31000),
        ({"filter": "createddate:[2025-05-01T00:00:00.000Z..]"}, 30700),
        ({"filter": "creationdate"}, 30700),
        ({"filter": "creationdate:2025-05-01T00:00:00.000Z"}, 30800),
        ({"filter": "creationdate:[2025-05-01T00:00:00.000Z]"}, 30800),
        ({"filter": "creationdate:[2025-05-01..]"}, 30810),
        ({"filter": "lastmodifieddate:[2025-05-01T00:00:00+00:00..]"}, 30810),
        ({"filter": "creationdate:[2025-13-01T00:00:00.000Z..]"}, 30810),
        ({"filter": "creationdate:[..]"}, 30820),
        ({"filter": "creationdate:[2025-05-02T00:00:00.000Z..2025-05-01T00:00:00.000Z]"}, 30840),
        ({"filter": "creationdate:[2022-05-01T00:00:00.000Z..2025-05-01T00:00:00.000Z]"}, 30830),
        ({"filter": "creationdate:[2025-07-01T00:00:00.000Z..]"}, 30850),
        (
            {"filter": "lastmodifieddate:[2025-05-01T00:00:00.000Z..2025-06-01T12:00:00.001Z]"},
            30850,
        ),
        ({"filter": "orderfulfillmentstatus:{FULFILLED}"}, 30800),
        ({"filter": "orderfulfillmentstatus:NOT_STARTED"}, 30800),
        ({"fieldGroups": "EVERYTHING"}, 32800),
    ],
)
async def test_bad_requests(
    client: httpx.AsyncClient,
    login: Any,
    fulfillment_spec: Any,
    params: dict[str, str],
    error_id: int,
) -> None:
    tokens = await login()
    resp = await client.get(ORDERS, headers=tokens.headers, params=params)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert list(body) == ["errors"]
    [error] = body["errors"]
    fulfillment_spec.validate("ErrorDetailV3", error)
    assert (error["errorId"], error["domain"], error["category"]) == (
        error_id,
        "API_FULFILLMENT",
        "REQUEST",
    )


async def test_accepted_edge_values(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    for params in (
        {"limit": "200", "offset": "0"},
        {"limit": "1"},
        {"fieldGroups": "TAX_BREAKDOWN"},
        {"filter": "creationdate:[2025-06-01T12:00:00.000Z..2025-06-01T12:00:00.000Z]"},
        {"filter": "creationdate:[2025-05-01T00:00:00Z..]"},
        {"filter": ""},
    ):
        resp = await client.get(ORDERS, headers=tokens.headers, params=params)
        assert resp.status_code == 200, (params, resp.text)


async def test_get_order_not_found(client: httpx.AsyncClient, login: Any, truth: Any) -> None:
    tokens = await login("sandbox_seller_1")
    other = (await truth("sandbox_seller_2"))[0]["orderId"]
    for order_id in (other, "00-00000-00000"):
        resp = await client.get(f"{ORDERS}/{order_id}", headers=tokens.headers)
        assert resp.status_code == 404
        assert resp.json()["errors"][0]["errorId"] == 32100
    resp = await client.get(
        f"{ORDERS}/{other}", params={"fieldGroups": "NOPE"}, headers=tokens.headers
    )
    assert resp.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer v^1.1#i^1#forged"},
        {"Authorization": "token"},
    ],
)
async def test_requires_valid_token(
    client: httpx.AsyncClient, headers: dict[str, str], observed_errors: Any
) -> None:
    expected = observed_errors["401_invalid_access_token"]["body"]
    for path in (ORDERS, f"{ORDERS}/12-34567-89012"):
        resp = await client.get(path, headers=headers)
        assert resp.status_code == 401
        assert resp.json() == expected


async def test_requires_fulfillment_scope(
    client: httpx.AsyncClient, login: Any, observed_errors: Any
) -> None:
    scope = "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly"
    tokens = await login(scopes=scope)
    resp = await client.get(ORDERS, headers=tokens.headers)
    assert resp.status_code == 403
    assert resp.json() == observed_errors["403_insufficient_permissions"]["body"]


@pytest.mark.parametrize("config_overrides", [{"history_days": 900, "orders_per_day": 2}])
async def test_orders_older_than_two_years_are_hidden(
    client: httpx.AsyncClient, login: Any, truth: Any, walk_pages: Walk
) -> None:
    tokens = await login()
    oldest = NOW - timedelta(days=730)
    everything = await truth()
    assert min(created(o) for o in everything) >= oldest
    assert min(created(o) for o in everything) < oldest + timedelta(days=5)
    flt = f"creationdate:[{iso(NOW - timedelta(days=729))}..]"
    walked = await walk_pages(tokens.headers, filter=flt, limit=200)
    assert walked == [o for o in everything if created(o) >= NOW - timedelta(days=729)]


@pytest.mark.parametrize("config_overrides", [{"sellers": 1, "orders_per_day": 40}])
async def test_a_page_is_cheap(client: httpx.AsyncClient, login: Any) -> None:
    tokens = await login()
    flt = {"filter": f"lastmodifieddate:[{iso(NOW - timedelta(days=119))}..]", "limit": "50"}
    first = await client.get(ORDERS, headers=tokens.headers, params=flt)
    assert first.json()["total"] > 4000
    # Counted, not timed (bench_sandbox times an idle page): the window's orders are built
    # once, and every later page of the query is cut from them.
    built = (await client.get("/sandbox/stats")).json()["work"]["entities_built"]
    for offset in range(0, 1000, 50):
        resp = await client.get(ORDERS, headers=tokens.headers, params={**flt, "offset": offset})
        assert resp.status_code == 200
        assert len(resp.json()["orders"]) == 50
    assert (await client.get("/sandbox/stats")).json()["work"]["entities_built"] == built
