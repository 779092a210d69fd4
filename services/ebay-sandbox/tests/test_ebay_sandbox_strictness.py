"""Strict like eBay: a client bug fails here with eBay's status and body, not in production."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ebay_sandbox.strictness import LENIENT, parse_strictness

Json = dict[str, Any]
Login = Any  # conftest.Login
TradingFn = Any  # conftest.TradingFn
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TRANSACTIONS = "/sell/finances/v1/transaction"
PAYOUTS = "/sell/finances/v1/payout"
ITEMS = "/sell/inventory/v1/inventory_item"
OFFERS = "/sell/inventory/v1/offer"
DISPUTES = "/sell/fulfillment/v1/payment_dispute_summary"
ORDERS = "/sell/fulfillment/v1/order"
REST_URLS = [ORDERS, TRANSACTIONS, PAYOUTS, ITEMS, DISPUTES, "/commerce/identity/v1/user/"]
POST_ORDER = [
    "/post-order/v2/return/search",
    "/post-order/v2/casemanagement/search",
    "/post-order/v2/inquiry/search",
]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def error_ids(resp: httpx.Response) -> list[int]:
    return [e["errorId"] for e in resp.json()["errors"]]


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


# --- Trading -------------------------------------------------------------------------------


async def test_trading_header_and_body_errors(
    trading: TradingFn, login: Callable[..., Awaitable[Login]]
) -> None:
    token = (await login()).access_token
    site = await trading("GetUser", token=token, X_EBAY_API_SITEID="US")
    assert (site.status, site.ack, site.error_codes) == (200, "Failure", ["10012"])
    assert site.text("Errors/ShortMessage") == 'Invalid value for header "X-EBAY-API-SITEID".'
    assert (
        site.text("Errors/LongMessage")
        == 'Header "X-EBAY-API-SITEID" with value "US" is out of range.'
    )
    assert [v.text for v in site.findall("Errors/ErrorParameters/Value")] == [
        "X-EBAY-API-SITEID",
        "US",
    ]
    level = await trading("GetUser", token=token, X_EBAY_API_COMPATIBILITY_LEVEL=None)
    assert level.error_codes == ["10012"]
    unknown = await trading("GetUser", token=token, X_EBAY_API_CALL_NAME="AddItem")
    assert unknown.error_codes == ["2"] and unknown.root.tag.endswith("AddItemResponse")
    broken = await trading("GetUser", token=token, body="<GetUserRequest")
    assert broken.error_codes == ["5"]
    wrong_root = await trading("GetUser", token=token, body="<GetUserRequest/>")
    assert wrong_root.error_codes == ["37"]


async def test_trading_token_errors(
    client: httpx.AsyncClient,
    trading: TradingFn,
    login: Callable[..., Awaitable[Login]],
    advance: Callable[[float], Awaitable[str]],
) -> None:
    assert (await trading("GetUser", token=None)).error_codes == ["930"]
    auth_n_auth = (
        "<RequesterCredentials><eBayAuthToken>AgAAAA**</eBayAuthToken></RequesterCredentials>"
    )
    assert (await trading("GetUser", auth_n_auth, token=None)).error_codes == ["931"]
    assert (await trading("GetUser", token="v^1.1#nope")).error_codes == ["931"]
    revoked = await login()
    await client.post("/sandbox/tokens/revoke", json={"token": revoked.access_token})
    reply = await trading("GetUser", token=revoked.access_token)
    assert (reply.status, reply.error_codes) == (200, ["932"])
    expiring = await login()
    await advance(7200)
    reply = await trading("GetMyeBaySelling", token=expiring.access_token)
    assert (reply.status, reply.error_codes) == (200, ["21917053"])
    assert reply.text("Errors/ShortMessage") == "Expired IAF token."


@pytest.mark.parametrize(
    ("call", "inner", "tag"),
    [
        ("GetMyMessages", "", "DetailLevel"),
        ("GetMyMessages", "<DetailLevel>ReturnEverything</DetailLevel>", "DetailLevel"),
        ("GetMyMessages", "<DetailLevel>ReturnMessages</DetailLevel>", "MessageIDs"),
        (
            "GetMyMessages",
            "<DetailLevel>ReturnHeaders</DetailLevel><MessageIDs>"
            + "".join(f"<MessageID>{i}</MessageID>" for i in range(11))
            + "</MessageIDs>",
            "MessageIDs",
        ),
        (
            "GetMyMessages",
            "<DetailLevel>ReturnHeaders</DetailLevel><Pagination><EntriesPerPage>201</EntriesPerPage></Pagination>",
            "EntriesPerPage",
        ),
        (
            "GetMyMessages",
            "<DetailLevel>ReturnHeaders</DetailLevel><StartTime>2025-05-02T00:00:00.000Z</StartTime>"
            "<EndTime>2025-05-01T00:00:00.000Z</EndTime>",
            "EndTime",
        ),
        (
            "GetMyeBaySelling",
            "<ActiveList><Pagination><EntriesPerPage>201</EntriesPerPage></Pagination></ActiveList>",
            "EntriesPerPage",
        ),
        (
            "GetMyeBaySelling",
            "<ActiveList><Pagination><PageNumber>0</PageNumber></Pagination></ActiveList>",
            "PageNumber",
        ),
        ("GetMyeBaySelling", "<ActiveList><Sort>Colour</Sort></ActiveList>", "Sort"),
        (
            "GetMyeBayBuying",
            "<WonList><DurationInDays>61</DurationInDays></WonList>",
            "DurationInDays",
        ),
    ],
)
async def test_trading_call_errors(
    trading: TradingFn, login: Callable[..., Awaitable[Login]], call: str, inner: str, tag: str
) -> None:
    reply = await trading(call, inner, token=(await login()).access_token)
    assert (reply.status, reply.ack, reply.error_codes) == (200, "Failure", ["37"])
    assert reply.text("Errors/ErrorParameters/Value") == tag


# --- strictness variants: eBay behaviour the contracts leave open, played the other way -----

INQUIRIES = "/post-order/v2/inquiry/search"


def strict(spec: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("config_overrides", [{"strictness": spec}])


@strict("offers-no-offer-400")
async def test_the_no_offer_400_variant_answers_25713_as_a_400(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    resp = await client.get(OFFERS, params={"sku": "SKU-001-99999"}, headers=tokens.headers)
    assert (resp.status_code, error_ids(resp)) == (400, [25713])
    # Only "no offer" moves: an unknown offer id is still a 404.
    assert (await client.get(f"{OFFERS}/123", headers=tokens.headers)).status_code == 404


@strict("postorder-max-limit-50")
@pytest.mark.parametrize("url", POST_ORDER)
async def test_the_max_limit_variant_refuses_a_larger_limit_naming_it(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    post_order_schemas: Any,
    url: str,
) -> None:
    tokens = await login()
    refused = await client.get(url, params={"limit": "51"}, headers=tokens.iaf)
    assert refused.status_code == 400
    post_order_schemas.validate("Error", refused.json())
    assert "limit" in refused.json()["error"][0]["message"]
    assert (await client.get(url, params={"limit": "50"}, headers=tokens.iaf)).status_code == 200


@strict("postorder-max-range-days-30")
@pytest.mark.parametrize("url", POST_ORDER)
async def test_the_max_range_variant_refuses_longer_and_date_less_searches(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    post_order_schemas: Any,
    url: str,
) -> None:
    prefix = {"return": "", "casemanagement": "case_", "inquiry": "inquiry_"}[url.split("/")[3]]
    date_from, date_to = f"{prefix}creation_date_range_from", f"{prefix}creation_date_range_to"
    tokens = await login()

    async def search(days: float | None) -> httpx.Response:
        params = (
            {}
            if days is None
            else {
                date_from: iso(_NOW - timedelta(days=days)),
                date_to: iso(_NOW),
            }
        )
        return await client.get(url, params=params, headers=tokens.iaf)

    for refused in (await search(31), await search(None)):
        assert refused.status_code == 400, refused.text
        post_order_schemas.validate("Error", refused.json())
        assert date_from in refused.json()["error"][0]["message"]
    assert (await search(30)).status_code == 200


@strict("postorder-empty-no-paging")
@pytest.mark.parametrize("url", POST_ORDER)
async def test_the_empty_no_paging_variant_answers_an_empty_object(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], url: str
) -> None:
    prefix = {"return": "", "casemanagement": "case_", "inquiry": "inquiry_"}[url.split("/")[3]]
    tokens = await login()
    minute = {
        f"{prefix}creation_date_range_from": iso(_NOW - timedelta(days=400)),
        f"{prefix}creation_date_range_to": iso(_NOW - timedelta(days=400) + timedelta(minutes=1)),
    }
    empty = await client.get(url, params=minute, headers=tokens.iaf)
    assert (empty.status_code, empty.json()) == (200, {})
    everything = (await client.get(url, headers=tokens.iaf)).json()
    assert everything["members"] and "paginationOutput" in everything


@strict("inquiry-no-lastmodified")
async def test_the_no_lastmodified_variant_leaves_it_out_of_inquiries_and_their_truth(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    members = (await client.get(INQUIRIES, headers=tokens.iaf)).json()["members"]
    assert members and all("lastModifiedDate" not in m for m in members)
    assert all("creationDate" in m for m in members)
    truth = (await client.get("/sandbox/sellers/sandbox_seller_1/inquiries")).json()["members"]
    assert truth and all("lastModifiedDate" not in m for m in truth)
    cases = (await client.get(POST_ORDER[1], headers=tokens.iaf)).json()["members"]
    assert all("lastModifiedDate" in m for m in cases)


def test_variants_combine_and_unknown_ones_are_refused() -> None:
    both = parse_strictness("postorder-max-limit-25, offers-no-offer-400")
    assert (both.post_order_max_limit, both.no_offer_status) == (25, 400)
    assert parse_strictness("") == LENIENT
    for bad in ("postorder-max-limit-0", "postorder-max-limit-x", "offers-no-offer-500"):
        with pytest.raises(ValueError, match="unknown strictness"):
            parse_strictness(bad)
