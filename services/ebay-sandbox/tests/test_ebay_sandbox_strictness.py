"""Strict like eBay: a client bug fails here with eBay's status and body, not in production.

REST and Post-Order: tokens, auth schemes, filters, limits, lookbacks and signatures. Trading:
test_ebay_sandbox_strictness_trading; the variants: test_ebay_sandbox_strictness_variants.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from testkit.sandbox_client import POST_ORDER, error_ids, iso

Json = dict[str, Any]
Login = Any  # conftest.Login
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TRANSACTIONS = "/sell/finances/v1/transaction"
PAYOUTS = "/sell/finances/v1/payout"
ITEMS = "/sell/inventory/v1/inventory_item"
OFFERS = "/sell/inventory/v1/offer"
DISPUTES = "/sell/fulfillment/v1/payment_dispute_summary"
ORDERS = "/sell/fulfillment/v1/order"
REST_URLS = [ORDERS, TRANSACTIONS, PAYOUTS, ITEMS, DISPUTES, "/commerce/identity/v1/user/"]


# --- tokens and auth schemes ---------------------------------------------------------------


@pytest.mark.parametrize("url", REST_URLS + POST_ORDER)
async def test_missing_unknown_expired_and_revoked_tokens_get_401(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    observed_errors: Json,
    advance: Callable[[float], Awaitable[str]],
    url: str,
) -> None:
    scheme = "IAF" if url.startswith("/post-order") else "Bearer"
    market = {"X-EBAY-C-MARKETPLACE-ID": "EBAY_US"}
    expected = observed_errors["401_invalid_access_token"]["body"]
    revoked = await login()
    await client.post("/sandbox/tokens/revoke", json={"token": revoked.refresh_token})
    expiring = await login()
    await advance(7200)
    for headers in (
        market,
        {**market, "Authorization": f"{scheme} not-a-token"},
        {**market, "Authorization": f"{scheme} {expiring.access_token}"},
        {**market, "Authorization": f"{scheme} {revoked.access_token}"},
    ):
        resp = await client.get(url, headers=headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.json() == expected


@pytest.mark.parametrize("url", REST_URLS)
async def test_rest_wants_bearer(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], url: str
) -> None:
    tokens = await login()
    assert (await client.get(url, headers=tokens.iaf)).status_code == 401
    assert (await client.get(url, headers=tokens.headers)).status_code in (200, 204)


@pytest.mark.parametrize("url", POST_ORDER)
async def test_post_order_wants_iaf_and_a_marketplace(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    post_order_schemas: Any,
    url: str,
) -> None:
    tokens = await login()
    bearer = {**tokens.iaf, "Authorization": f"Bearer {tokens.access_token}"}
    assert (await client.get(url, headers=bearer)).status_code == 401
    resp = await client.get(url, headers={"Authorization": f"IAF {tokens.access_token}"})
    assert resp.status_code == 400
    post_order_schemas.validate("Error", resp.json())
    dashed = {**tokens.iaf, "X-EBAY-C-MARKETPLACE-ID": "EBAY-US"}
    assert (await client.get(url, headers=dashed)).status_code == 400
    assert (await client.get(url, headers=tokens.iaf)).status_code == 200


async def test_missing_scope_and_app_tokens_get_403(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    app_token: Callable[[], Awaitable[str]],
    observed_errors: Json,
) -> None:
    narrow = await login(scopes="https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly")
    expected = observed_errors["403_insufficient_permissions"]["body"]
    for url in (TRANSACTIONS, ITEMS, DISPUTES):
        resp = await client.get(url, headers=narrow.headers)
        assert (resp.status_code, resp.json()) == (403, expected)
    app = {"Authorization": f"Bearer {await app_token()}"}
    resp = await client.get(ORDERS, headers=app)
    assert (resp.status_code, resp.json()) == (403, expected)


# --- filters, limits and lookbacks ---------------------------------------------------------

_NOW = START
FILTER_ERRORS = [
    (TRANSACTIONS, {"filter": "transactionDate:2025-01-01T00:00:00.000Z"}, 135008),
    (TRANSACTIONS, {"filter": "transactionDate:[2025-01-01..]"}, 135008),
    (TRANSACTIONS, {"filter": "transactionType:{BOGUS}"}, 135006),
    (TRANSACTIONS, {"filter": "transactionStatus:{PAID}"}, 135007),
    (TRANSACTIONS, {"filter": "transactionId:{1}"}, 135009),
    (TRANSACTIONS, {"filter": "colour:{red}"}, 135008),
    (TRANSACTIONS, {"sort": "amount"}, 135005),
    (TRANSACTIONS, {"limit": "1001"}, 135003),
    (TRANSACTIONS, {"offset": "-1"}, 135003),
    (
        TRANSACTIONS,
        {"filter": f"transactionDate:[{iso(_NOW - timedelta(days=6 * 365))}..]"},
        135015,
    ),
    (
        TRANSACTIONS,
        {"filter": f"transactionDate:[{iso(_NOW - timedelta(days=4 * 365))}..{iso(_NOW)}]"},
        135016,
    ),
    (PAYOUTS, {"filter": "payoutStatus:{SUCCEEDED|INITIATED}"}, 135002),
    (PAYOUTS, {"filter": "payoutDate:[yesterday..]"}, 135004),
    (PAYOUTS, {"filter": f"payoutDate:[{iso(_NOW - timedelta(days=6 * 365))}..]"}, 135013),
    (
        PAYOUTS,
        {"filter": f"payoutDate:[{iso(_NOW - timedelta(days=4 * 365))}..{iso(_NOW)}]"},
        135014,
    ),
    (PAYOUTS, {"filter": f"lastAttemptedPayoutDate:[{iso(_NOW - timedelta(days=9))}..]"}, 135002),
    (PAYOUTS, {"limit": "201"}, 135003),
    (PAYOUTS, {"sort": "amount"}, 135005),
    (ITEMS, {"limit": "201"}, 25706),
    (ITEMS, {"offset": "x"}, 25706),
    (OFFERS, {}, 25709),
    (OFFERS, {"sku": "SKU-001-00001", "limit": "201"}, 25706),
    (OFFERS, {"sku": "SKU-001-00001", "format": "CLASSIFIED"}, 25709),
    (DISPUTES, {"limit": "201"}, 33001),
    (DISPUTES, {"payment_dispute_status": "WON"}, 33001),
    (DISPUTES, {"open_date_from": iso(_NOW - timedelta(days=600))}, 33001),
    (
        DISPUTES,
        {"open_date_from": iso(_NOW - timedelta(days=100)), "open_date_to": iso(_NOW)},
        33001,
    ),
    (DISPUTES, {"open_date_from": "2025-05-01"}, 33001),
    (ORDERS, {"limit": "201"}, 31100),
    (
        ORDERS,
        {"filter": "creationdate:[2025-01-01T00:00:00.000Z..2023-01-01T00:00:00.000Z]"},
        30840,
    ),
]


@pytest.mark.parametrize(("url", "params", "error_id"), FILTER_ERRORS)
async def test_bad_requests_get_the_documented_error(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    url: str,
    params: dict[str, str],
    error_id: int,
) -> None:
    tokens = await login()
    resp = await client.get(url, params=params, headers=tokens.headers)
    assert resp.status_code == 400, resp.text
    assert error_ids(resp) == [error_id]


async def test_unknown_resources_are_404(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    for url, error_id in (
        (f"{OFFERS}?sku=SKU-001-99999", 25713),
        (f"{OFFERS}/123", 25713),
        (f"{ITEMS}/NOPE", 25710),
        (f"{PAYOUTS}/5000000000", 135001),
        ("/sell/fulfillment/v1/payment_dispute/800000000000", 33001),
        (f"{ORDERS}/01-23456-78901", 32100),
    ):
        resp = await client.get(url, headers=tokens.headers)
        assert (resp.status_code, error_ids(resp)) == (404, [error_id]), url
    for url in (
        "/post-order/v2/return/1",
        "/post-order/v2/casemanagement/6",
        "/post-order/v2/inquiry/7",
    ):
        assert (await client.get(url, headers=tokens.iaf)).status_code == 404


@pytest.mark.parametrize("url", POST_ORDER)
@pytest.mark.parametrize(
    "params",
    [
        {"limit": "201"},
        {"limit": "0"},
        {"offset": "-5"},
        {"{from}": iso(_NOW - timedelta(days=560))},
        {"{from}": "2025-05-01T00:00:00"},
        {"{from}": iso(_NOW + timedelta(days=1))},
        {"{from}": iso(_NOW - timedelta(days=5)), "{to}": iso(_NOW - timedelta(days=9))},
    ],
)
async def test_post_order_rejects_bad_windows_and_limits(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    post_order_schemas: Any,
    url: str,
    params: dict[str, str],
) -> None:
    prefix = {"return": "", "casemanagement": "case_", "inquiry": "inquiry_"}[url.split("/")[3]]
    names = {
        "{from}": f"{prefix}creation_date_range_from",
        "{to}": f"{prefix}creation_date_range_to",
    }
    query = {names.get(k, k): v for k, v in params.items()}
    tokens = await login()
    resp = await client.get(url, params=query, headers=tokens.iaf)
    assert resp.status_code == 400, resp.text
    post_order_schemas.validate("Error", resp.json())


async def test_post_order_uses_its_own_date_parameter_names(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    day = {"from": iso(_NOW - timedelta(days=30)), "to": iso(_NOW - timedelta(days=29))}
    for url, prefix in zip(POST_ORDER, ("", "case_", "inquiry_"), strict=True):
        everything = (await client.get(url, params={"limit": "200"}, headers=tokens.iaf)).json()
        own = {f"{prefix}creation_date_range_{k}": v for k, v in day.items()}
        one_day = (await client.get(url, params={**own, "limit": "200"}, headers=tokens.iaf)).json()
        assert (
            one_day["paginationOutput"]["totalEntries"]
            < everything["paginationOutput"]["totalEntries"]
        )
        # Another resource's names are ignored like any unknown parameter.
        other = "case_" if prefix != "case_" else ""
        foreign = {f"{other}creation_date_range_{k}": v for k, v in day.items()}
        ignored = (
            await client.get(url, params={**foreign, "limit": "200"}, headers=tokens.iaf)
        ).json()
        assert ignored == everything


# --- digital signatures --------------------------------------------------------------------


@pytest.mark.parametrize("url", [TRANSACTIONS, PAYOUTS])
async def test_eu_uk_finances_need_a_signature(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    signer: Callable[..., Awaitable[Any]],
    observed_errors: Json,
    url: str,
) -> None:
    uk = await login("sandbox_seller_2")  # EBAY_GB
    resp = await client.get(url, headers=uk.headers)
    assert (resp.status_code, resp.json()) == (
        403,
        observed_errors["403_missing_signature_key_eu_uk"]["body"],
    )
    key = await signer("ED25519")
    full = f"http://sandbox{url}"
    invalid = observed_errors["403_signature_validation_failed"]["body"]
    bad = [
        {"x-ebay-signature-key": "not.a.jwe.at.all"},
        {**key.headers("GET", full), "x-ebay-signature-key": key.key["jwe"][:-4] + "AAAA"},
        key.headers("GET", "http://sandbox/sell/finances/v1/other"),
        key.headers("GET", "http://elsewhere.example" + url),
        key.headers("POST", full),
        {**key.headers("GET", full), "Signature": "sig1=:AAAA:"},
    ]
    for headers in bad:
        resp = await client.get(url, headers={**uk.headers, **headers})
        assert (resp.status_code, resp.json()) == (403, invalid), headers
    for cipher in ("ED25519", "RSA"):
        good = await signer(cipher)
        resp = await client.get(
            url, params={"limit": "5"}, headers={**uk.headers, **good.headers("GET", full)}
        )
        assert resp.status_code == 200, resp.text
    us = await login("sandbox_seller_1")
    assert (await client.get(url, headers=us.headers)).status_code == 200
