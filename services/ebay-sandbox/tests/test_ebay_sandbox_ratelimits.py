"""Developer Analytics getRateLimits / getUserRateLimits: the contract's shape, the calls counted
per quota window, the daily reset, the filters, who may ask, and the optional enforcement."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

RATE_LIMIT = "/developer/analytics/v1_beta/rate_limit/"
USER_RATE_LIMIT = "/developer/analytics/v1_beta/user_rate_limit/"
SUMMARY = "<DetailLevel>ReturnSummary</DetailLevel>"
# START is 05:00 Pacific daylight time on 2025-06-01; the next Pacific midnight is 07:00 UTC.
NEXT_RESET = "2025-06-02T07:00:00.000Z"

Json = dict[str, Any]


async def _app_headers(app_token: Callable[[], Awaitable[str]]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await app_token()}"}


def _rates(body: Json) -> dict[tuple[str, str], Json]:
    """(apiName, resource name) -> its single rate."""
    found: dict[tuple[str, str], Json] = {}
    for api in body["rateLimits"]:
        for resource in api["resources"]:
            (rate,) = resource["rates"]
            found[(api["apiName"], resource["name"])] = rate
    return found


async def test_rate_limits_follow_the_contract_and_count_todays_calls(
    client: httpx.AsyncClient,
    login: Any,
    trading: Any,
    app_token: Callable[[], Awaitable[str]],
    analytics_spec: Any,
) -> None:
    tokens = await login()
    for _ in range(3):
        await trading("GetMyMessages", SUMMARY, token=tokens.access_token)
    await client.get("/sell/fulfillment/v1/order", headers=tokens.headers)
    await client.get("/post-order/v2/casemanagement/search", headers=tokens.iaf)
    await client.get("/post-order/v2/return/search", headers=tokens.iaf)
    await client.get("/post-order/v2/return/search", headers=tokens.iaf)
    resp = await client.get(RATE_LIMIT, headers=await _app_headers(app_token))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    analytics_spec.validate("RateLimitsResponse", body)
    rates = _rates(body)
    # Trading per call, Post-Order per resource, each with its own count.
    assert rates[("TradingAPI", "GetMyMessages")] == {
        "count": 3,
        "limit": 5000,
        "remaining": 4997,
        "reset": NEXT_RESET,
        "timeWindow": 86400,
    }
    assert rates[("TradingAPI", "GetMyeBaySelling")]["count"] == 0
    assert rates[("PostOrder", "casemanagement")]["count"] == 1
    assert rates[("PostOrder", "return")]["count"] == 2
    assert rates[("PostOrder", "inquiry")] | {"reset": ""} == {
        "count": 0,
        "limit": 5000,
        "remaining": 5000,
        "reset": "",
        "timeWindow": 86400,
    }
    assert rates[("Fulfillment", "order")]["count"] == 1
    assert rates[("Fulfillment", "order")]["limit"] == 100_000
    assert rates[("Fulfillment", "payment_dispute")]["limit"] == 250_000
    assert rates[("Finances", "sell.finances")]["limit"] == 15_000
    # This call is a Developer Analytics call of its own.
    assert rates[("Analytics", "developer.analytics")]["count"] == 1


@pytest.mark.parametrize(
    "config_overrides", [{"quota_trading": 40, "quota_postorder": 7, "quota_finances": 0}]
)
async def test_limits_are_the_configured_ones_and_reset_at_pacific_midnight(
    client: httpx.AsyncClient,
    login: Any,
    trading: Any,
    app_token: Callable[[], Awaitable[str]],
    advance: Callable[[float], Awaitable[str]],
) -> None:
    tokens = await login()
    app = await _app_headers(app_token)
    await trading("GetMyMessages", SUMMARY, token=tokens.access_token)
    rates = _rates((await client.get(RATE_LIMIT, headers=app)).json())
    assert rates[("TradingAPI", "GetMyMessages")]["remaining"] == 39
    assert rates[("PostOrder", "return")]["limit"] == 7
    assert rates[("Finances", "sell.finances")] | {"reset": ""} == {
        "count": 0,
        "limit": 0,
        "remaining": 0,
        "reset": "",
        "timeWindow": 86400,
    }
    # The sandbox's own count (GET /sandbox/calls): no day has ended yet.
    calls = (await client.get("/sandbox/calls")).json()
    assert calls["ended"] is None
    assert calls["today"]["calls"]["TradingAPI/GetMyMessages"] == 1
    await advance(19 * 3600)  # past 07:00 UTC: a new quota day (and past the token's life)
    rates = _rates((await client.get(RATE_LIMIT, headers=await _app_headers(app_token))).json())
    assert rates[("TradingAPI", "GetMyMessages")]["count"] == 0
    assert rates[("TradingAPI", "GetMyMessages")]["reset"] == "2025-06-03T07:00:00.000Z"
    # The day that ended keeps its count: a test can add up a whole day's calls.
    calls = (await client.get("/sandbox/calls")).json()
    assert "TradingAPI/GetMyMessages" not in calls["today"]["calls"]
    assert calls["ended"]["calls"]["TradingAPI/GetMyMessages"] == 1
    assert calls["ended"]["calls"]["Analytics/developer.analytics"] == 1


async def test_filters_are_case_sensitive_and_no_match_is_204(
    client: httpx.AsyncClient, app_token: Callable[[], Awaitable[str]]
) -> None:
    app = await _app_headers(app_token)
    trading_only = await client.get(RATE_LIMIT, params={"api_name": "TradingAPI"}, headers=app)
    assert {a["apiName"] for a in trading_only.json()["rateLimits"]} == {"TradingAPI"}
    sell = await client.get(RATE_LIMIT, params={"api_context": "sell"}, headers=app)
    assert {a["apiContext"] for a in sell.json()["rateLimits"]} == {"sell"}
    assert {a["apiName"] for a in sell.json()["rateLimits"]} == {
        "Fulfillment",
        "Finances",
        "Inventory",
        "PostOrder",
    }
    # The documented lower-case value does not match the payload's "TradingAPI" (§6 quirk).
    lower = await client.get(RATE_LIMIT, params={"api_context": "tradingapi"}, headers=app)
    assert (lower.status_code, lower.content) == (204, b"")


async def test_app_limits_need_an_app_token_and_user_limits_a_user_token(
    client: httpx.AsyncClient, login: Any, app_token: Callable[[], Awaitable[str]]
) -> None:
    tokens = await login()
    app = await _app_headers(app_token)
    assert (await client.get(RATE_LIMIT)).status_code == 401
    assert (await client.get(RATE_LIMIT, headers={"Authorization": "Bearer nope"})).status_code == (
        401
    )
    assert (await client.get(RATE_LIMIT, headers=tokens.headers)).status_code == 403
    assert (await client.get(USER_RATE_LIMIT, headers=app)).status_code == 403
    assert (await client.get(USER_RATE_LIMIT, headers=tokens.headers)).status_code == 200


async def test_user_limits_count_each_sellers_selling_calls_per_15_seconds(
    client: httpx.AsyncClient,
    login: Any,
    trading: Any,
    advance: Callable[[float], Awaitable[str]],
    analytics_spec: Any,
) -> None:
    first = await login("sandbox_seller_1")
    second = await login("sandbox_seller_2")
    for _ in range(2):
        await trading("GetMyeBaySelling", "", token=first.access_token)
    await trading("GetMyMessages", SUMMARY, token=first.access_token)
    body = (await client.get(USER_RATE_LIMIT, headers=first.headers)).json()
    analytics_spec.validate("RateLimitsResponse", body)
    assert _rates(body) == {
        ("TradingAPI", "GetMyeBaySelling"): {
            "count": 2,
            "limit": 300,
            "remaining": 298,
            "reset": "2025-06-01T12:00:15.000Z",
            "timeWindow": 15,
        }
    }
    other = _rates((await client.get(USER_RATE_LIMIT, headers=second.headers)).json())
    assert other[("TradingAPI", "GetMyeBaySelling")]["count"] == 0
    await advance(15)
    later = _rates((await client.get(USER_RATE_LIMIT, headers=first.headers)).json())
    assert later[("TradingAPI", "GetMyeBaySelling")]["count"] == 0
    none = await client.get(USER_RATE_LIMIT, params={"api_name": "x"}, headers=first.headers)
    assert none.status_code == 204


@pytest.mark.parametrize(
    "config_overrides", [{"quota_trading": 2, "quota_fulfillment": 1, "quota_enforce": True}]
)
async def test_enforced_limits_refuse_calls_as_ebay_does(
    client: httpx.AsyncClient, login: Any, trading: Any, observed_errors: Any
) -> None:
    tokens = await login()
    for _ in range(2):
        reply = await trading("GetMyMessages", SUMMARY, token=tokens.access_token)
        assert reply.ack == "Success"
    reply = await trading("GetMyMessages", SUMMARY, token=tokens.access_token)
    assert (reply.status, reply.error_codes) == (200, ["518"])
    # Another Trading call has a window of its own.
    assert (await trading("GetUser", "", token=tokens.access_token)).ack == "Success"
    orders = "/sell/fulfillment/v1/order"
    assert (await client.get(orders, headers=tokens.headers)).status_code == 200
    refused = await client.get(orders, headers=tokens.headers)
    assert (refused.status_code, refused.json()) == (
        429,
        observed_errors["429_call_limit_reached"]["body"],
    )
