"""Every response, checked by a schema checker against eBay's contracts.

JSON: eBay's OpenAPI files (jsonschema, unknown properties rejected); Post-Order: the JSON
Schemas assembled from the fact sheet (eBay publishes no OpenAPI for it); Trading XML: the
element paths, attributes and value kinds of the Trading samples.
"""

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

Json = dict[str, Any]
CONTRACTS = Path(__file__).parent / "contracts"
# Fixture types live in conftest.py, which test modules cannot import.
Login = Any
SpecValidator = Any
JsonSchemas = Any
XmlShape = Any
TradingFn = Any
ORDERS = "/sell/fulfillment/v1/order"
DISPUTES = "/sell/fulfillment/v1/payment_dispute_summary"
TRANSACTIONS = "/sell/finances/v1/transaction"
PAYOUTS = "/sell/finances/v1/payout"
ITEMS = "/sell/inventory/v1/inventory_item"
OFFERS = "/sell/inventory/v1/offer"
KEYS = "/developer/key_management/v1/signing_key"


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any) -> Json:
    resp = await client.get(url, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    body: Json = resp.json()
    return body


async def test_finances_transactions_match_spec(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], finances_spec: SpecValidator
) -> None:
    tokens = await login("sandbox_seller_1")  # a US BUSINESS seller: store fees too
    body = await _get(client, TRANSACTIONS, tokens.headers, limit=1000)
    finances_spec.validate("Transactions", body)
    kinds = {t["transactionType"] for t in body["transactions"]}
    assert {"SALE", "REFUND", "SHIPPING_LABEL", "NON_SALE_CHARGE"} <= kinds
    statuses = {t["transactionStatus"] for t in body["transactions"]}
    assert {"FUNDS_PROCESSING", "FUNDS_AVAILABLE_FOR_PAYOUT", "PAYOUT", "COMPLETED"} <= statuses
    assert list(body)[:4] == ["href", "total", "limit", "offset"]
    assert body["limit"] == 1000 and "next" in body


async def test_finances_payouts_match_spec(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], finances_spec: SpecValidator
) -> None:
    tokens = await login("sandbox_seller_1")
    body = await _get(client, PAYOUTS, tokens.headers, limit=200)
    finances_spec.validate("Payouts", body)
    assert {p["payoutStatus"] for p in body["payouts"]} >= {"INITIATED", "SUCCEEDED"}
    one = await _get(client, f"{PAYOUTS}/{body['payouts'][0]['payoutId']}", tokens.headers)
    finances_spec.validate("Payout", one)
    assert one == body["payouts"][0]


async def test_inventory_matches_spec(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], inventory_spec: SpecValidator
) -> None:
    tokens = await login("sandbox_seller_1")
    body = await _get(client, ITEMS, tokens.headers, limit=200)
    inventory_spec.validate("InventoryItems", body)
    assert body["total"] == len(body["inventoryItems"]) > 0
    assert "offset" not in body
    first = body["inventoryItems"][0]
    item = await _get(client, f"{ITEMS}/{first['sku']}", tokens.headers)
    inventory_spec.validate("InventoryItemWithSkuLocaleGroupid", item)
    assert item == first
    offers = await _get(client, OFFERS, tokens.headers, sku=first["sku"])
    inventory_spec.validate("Offers", offers)
    offer = offers["offers"][0]
    assert offer["sku"] == first["sku"] and offer["status"] == "PUBLISHED"
    single = await _get(client, f"{OFFERS}/{offer['offerId']}", tokens.headers)
    inventory_spec.validate("EbayOfferDetailsWithAll", single)
    assert single == offer


@pytest.mark.parametrize("config_overrides", [{"orders_per_day": 80}])
async def test_payment_disputes_match_spec(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    fulfillment_spec: SpecValidator,
    truth: Any,
) -> None:
    tokens = await login("sandbox_seller_1")
    body = await _get(client, DISPUTES, tokens.headers)
    fulfillment_spec.validate("DisputeSummaryResponse", body)
    everything = (await client.get("/sandbox/sellers/sandbox_seller_1/payment_disputes")).json()
    summaries = everything["paymentDisputeSummaries"]
    assert {s["paymentDisputeStatus"] for s in summaries} == {"OPEN", "ACTION_NEEDED", "CLOSED"}
    for summary in summaries:
        fulfillment_spec.validate("PaymentDisputeSummary", summary)
        detail = await _get(
            client,
            f"/sell/fulfillment/v1/payment_dispute/{summary['paymentDisputeId']}",
            tokens.headers,
        )
        fulfillment_spec.validate("PaymentDispute", detail)
        assert {k: detail[k] for k in summary} == summary


async def test_identity_and_keys_match_spec(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    app_token: Callable[[], Awaitable[str]],
    identity_spec: SpecValidator,
    keys_spec: SpecValidator,
) -> None:
    tokens = await login()
    identity_spec.validate(
        "UserResponse", await _get(client, "/commerce/identity/v1/user/", tokens.headers)
    )
    app = {"Authorization": f"Bearer {await app_token()}"}
    for cipher in ("ED25519", "RSA"):
        resp = await client.post(KEYS, json={"signingKeyCipher": cipher}, headers=app)
        assert resp.status_code == 200, resp.text
        created = resp.json()
        keys_spec.validate("SigningKey", created)
        assert created["signingKeyCipher"] == cipher and created["privateKey"]
        fetched = await _get(client, f"{KEYS}/{created['signingKeyId']}", app)
        keys_spec.validate("SigningKey", fetched)
        assert "privateKey" not in fetched
        assert fetched == {k: v for k, v in created.items() if k != "privateKey"}
    listing = await _get(client, KEYS, app)
    keys_spec.validate("QuerySigningKeysResponse", listing)
    assert len(listing["signingKeys"]) == 2


def test_post_order_examples_fit_the_assembled_schemas(post_order_schemas: JsonSchemas) -> None:
    for name, schema in (
        ("return", "ReturnSearch"),
        ("case", "CaseSearch"),
        ("inquiry", "InquirySearch"),
    ):
        example = json.loads(
            (CONTRACTS / "post_order" / f"{name}_search.response.json").read_text()
        )
        post_order_schemas.validate(schema, example)
    error = json.loads((CONTRACTS / "post_order" / "error.response.json").read_text())
    post_order_schemas.validate("Error", error)


@pytest.mark.parametrize(
    ("resource", "schema", "detail", "id_key"),
    [
        ("return", "ReturnSearch", "ReturnDetail", "returnId"),
        ("casemanagement", "CaseSearch", "CaseDetail", "caseId"),
        ("inquiry", "InquirySearch", "InquiryDetail", "inquiryId"),
    ],
)
async def test_post_order_matches_schemas(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    post_order_schemas: JsonSchemas,
    resource: str,
    schema: str,
    detail: str,
    id_key: str,
) -> None:
    tokens = await login()
    body = await _get(client, f"/post-order/v2/{resource}/search", tokens.iaf, limit=200)
    post_order_schemas.validate(schema, body)
    assert body["members"], "the seller has some"
    states = {
        m.get("state", m.get("caseStatusEnum", m.get("inquiryStatusEnum"))) for m in body["members"]
    }
    assert len(states) > 1, "open and closed ones"
    for member in body["members"][:5]:
        found = await _get(client, f"/post-order/v2/{resource}/{member[id_key]}", tokens.iaf)
        post_order_schemas.validate(detail, found)
        summary = found.get("summary", found)
        assert {k: summary[k] for k in member} == member


@pytest.mark.parametrize(
    ("call", "inner", "container"),
    [
        (
            "GetMyeBaySelling",
            "<ActiveList><Pagination><EntriesPerPage>200</EntriesPerPage></Pagination></ActiveList>",
            "ActiveList/ItemArray/Item",
        ),
        (
            "GetMyMessages",
            "<DetailLevel>ReturnHeaders</DetailLevel><Pagination><EntriesPerPage>200</EntriesPerPage></Pagination>",
            "Messages/Message",
        ),
        ("GetMyMessages", "<DetailLevel>ReturnSummary</DetailLevel>", "Summary"),
        (
            "GetMyeBayBuying",
            "<WonList><Include>true</Include></WonList>",
            "WonList/OrderTransactionArray/OrderTransaction",
        ),
        ("GetUser", "", "User"),
    ],
)
async def test_trading_matches_the_samples(
    trading: TradingFn,
    login: Callable[..., Awaitable[Login]],
    trading_shape: XmlShape,
    call: str,
    inner: str,
    container: str,
) -> None:
    tokens = await login()
    reply = await trading(call, inner, token=tokens.access_token)
    assert (reply.status, reply.ack) == (200, "Success"), reply.body
    assert reply.findall(container)
    trading_shape.validate(reply.body)


async def test_trading_message_bodies_match_the_samples(
    trading: TradingFn, login: Callable[..., Awaitable[Login]], trading_shape: XmlShape
) -> None:
    tokens = await login()
    headers = await trading(
        "GetMyMessages", "<DetailLevel>ReturnHeaders</DetailLevel>", token=tokens.access_token
    )
    ids = [m.text or "" for m in headers.findall("Messages/Message/MessageID")][:10]
    inner = (
        "<DetailLevel>ReturnMessages</DetailLevel><MessageIDs>"
        + "".join(f"<MessageID>{i}</MessageID>" for i in ids)
        + "</MessageIDs>"
    )
    reply = await trading("GetMyMessages", inner, token=tokens.access_token)
    assert [m.text for m in reply.findall("Messages/Message/MessageID")] == ids
    assert all(m.text for m in reply.findall("Messages/Message/Text"))
    trading_shape.validate(reply.body)


async def test_trading_errors_match_the_samples(
    trading: TradingFn, login: Callable[..., Awaitable[Login]], trading_shape: XmlShape
) -> None:
    tokens = await login()
    for reply in (
        await trading("GetUser", token=tokens.access_token, X_EBAY_API_SITEID="US"),
        await trading("GetUser", token="not-a-token"),
        await trading("GetMyMessages", "", token=tokens.access_token),
    ):
        assert (reply.status, reply.ack) == (200, "Failure")
        trading_shape.validate(reply.body)


async def test_every_answer_names_its_request_for_ebay_support(
    client: httpx.AsyncClient, trading: TradingFn, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    answers = [
        await client.get(ORDERS, headers=tokens.headers),
        await client.get(ORDERS, params={"limit": "201"}, headers=tokens.headers),
    ]
    failed = await trading("GetMyMessages", "", token=tokens.access_token)  # no DetailLevel
    ids = [answer.headers["x-ebay-c-request-id"] for answer in answers]
    ids.append(failed.headers["x-ebay-c-request-id"])
    assert len(set(ids)) == len(ids)
    assert all(a.headers["rlogid"] for a in answers) and failed.headers["rlogid"]
    assert failed.ack == "Failure"
    assert failed.text("CorrelationID") == ids[-1]


def test_the_shape_checker_rejects_what_the_samples_do_not_show(trading_shape: XmlShape) -> None:
    sample = (CONTRACTS / "trading" / "example_GetUser.response.xml").read_bytes()
    trading_shape.validate(sample)
    assert trading_shape.errors(sample.replace(b"<Site>US</Site>", b"<Sight>US</Sight>"))
    assert trading_shape.errors(sample.replace(b"<NewUser>false", b"<NewUser>maybe"))
    assert trading_shape.errors(sample.replace(b"<Ack>Success</Ack>", b""))


async def test_rest_errors_match_spec(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    finances_spec: SpecValidator,
    inventory_spec: SpecValidator,
    fulfillment_spec: SpecValidator,
    keys_spec: SpecValidator,
) -> None:
    tokens = await login()
    cases: list[tuple[SpecValidator, str, str, dict[str, str]]] = [
        (finances_spec, "Error", TRANSACTIONS, {"limit": "1001"}),
        (finances_spec, "Error", PAYOUTS, {"filter": "payoutStatus:{NOPE}"}),
        (inventory_spec, "ErrorDetailV3", OFFERS, {}),
        (inventory_spec, "ErrorDetailV3", ITEMS, {"limit": "0"}),
        (fulfillment_spec, "ErrorDetailV3", DISPUTES, {"limit": "201"}),
        (fulfillment_spec, "ErrorDetailV3", ORDERS, {"filter": "creationdate:[2025-01-01..]"}),
        (keys_spec, "Error", f"{KEYS}/nope", {}),
    ]
    for spec, schema, url, params in cases:
        resp = await client.get(url, params=params, headers=tokens.headers)
        assert 400 <= resp.status_code < 500, (url, resp.text)
        errors = resp.json()["errors"]
        assert errors
        for error in errors:
            spec.validate(schema, error)
