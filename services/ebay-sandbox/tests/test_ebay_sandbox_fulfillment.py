"""Fulfillment getOrders/getOrder: responses against the spec and their content. Paging, filters,
errors and auth: test_ebay_sandbox_fulfillment_paging."""

import copy
from datetime import datetime
from typing import Any

import httpx

ORDERS = "/sell/fulfillment/v1/order"
Json = dict[str, Any]


def created(order: Json) -> datetime:
    return datetime.fromisoformat(order["creationDate"])


def modified(order: Json) -> datetime:
    return datetime.fromisoformat(order["lastModifiedDate"])


async def test_get_orders_matches_spec(
    client: httpx.AsyncClient, login: Any, fulfillment_spec: Any
) -> None:
    for username in ("sandbox_seller_1", "sandbox_seller_2"):
        tokens = await login(username)
        resp = await client.get(ORDERS, headers=tokens.headers, params={"limit": 200})
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "application/json"
        body = resp.json()
        fulfillment_spec.validate("OrderSearchPagedCollection", body)
        assert list(body)[:4] == ["href", "total", "limit", "offset"]
        assert "warnings" not in body
        assert "prev" not in body
        assert body["limit"] == 200
        assert len(body["orders"]) == 200


async def test_get_order_matches_spec(
    client: httpx.AsyncClient, login: Any, fulfillment_spec: Any, truth: Any
) -> None:
    tokens = await login()
    orders = await truth()
    cancelled = [o for o in orders if o["cancelStatus"]["cancelState"] != "NONE_REQUESTED"]
    shipped = [o for o in orders if o["fulfillmentHrefs"]]
    refunded = [o for o in orders if o["paymentSummary"]["refunds"]]
    multi = [o for o in orders if len(o["lineItems"]) > 1]
    assert cancelled
    assert shipped
    assert refunded
    assert multi
    for listed in (orders[0], cancelled[0], shipped[0], refunded[0], multi[0]):
        resp = await client.get(
            f"{ORDERS}/{listed['orderId']}",
            headers=tokens.headers,
            params={"fieldGroups": "TAX_BREAKDOWN"},  # as the truth renders it
        )
        assert resp.status_code == 200, resp.text
        order = resp.json()
        fulfillment_spec.validate("Order", order)
        assert order["lastModifiedDate"] == listed["lastModifiedDate"]
        # getOrders returns cancelRequests empty; getOrder fills it.
        assert listed["cancelStatus"]["cancelRequests"] == []
        has_request = order["cancelStatus"]["cancelState"] != "NONE_REQUESTED"
        if has_request:
            assert order["cancelStatus"]["cancelRequests"]
        stripped = copy.deepcopy(order)
        stripped["cancelStatus"]["cancelRequests"] = []
        assert stripped == listed


def cents(amount: Json) -> int:
    return round(float(amount["value"]) * 100)


async def test_tax_breakdown_adds_collect_and_remit_tax_to_the_total(
    client: httpx.AsyncClient, login: Any, fulfillment_spec: Any
) -> None:
    tokens = await login("sandbox_seller_1")  # an EBAY_US seller: eBay collects sales tax
    pages: dict[str | None, dict[str, Json]] = {}
    for groups in (None, "TAX_BREAKDOWN"):
        params: dict[str, str | int] = {"limit": 200}
        if groups:
            params["fieldGroups"] = groups
        resp = await client.get(ORDERS, headers=tokens.headers, params=params)
        assert resp.status_code == 200, resp.text
        fulfillment_spec.validate("OrderSearchPagedCollection", resp.json())
        pages[groups] = {o["orderId"]: o for o in resp.json()["orders"]}
    plain, broken_down = pages[None], pages["TAX_BREAKDOWN"]
    assert plain.keys() == broken_down.keys()
    taxed = untaxed = 0
    for order_id, order in broken_down.items():
        lines = order["lineItems"]
        tax = sum(
            cents(t["amount"]) for line in lines for t in line.get("ebayCollectAndRemitTaxes", [])
        )
        summary, plain_summary = order["pricingSummary"], plain[order_id]["pricingSummary"]
        assert cents(summary["total"]) == cents(plain_summary["total"]) + tax
        assert lines == plain[order_id]["lineItems"]  # the tax lines come whatever the groups
        if tax:
            taxed += 1
            assert cents(summary["tax"]) == tax
            assert {
                t["collectionMethod"] for line in lines for t in line["ebayCollectAndRemitTaxes"]
            } == {"NET"}
        else:
            untaxed += 1
            assert "tax" not in summary
    assert taxed and untaxed  # buyers in states with and without sales tax


async def test_strict_schema_catches_misspelled_fields(
    client: httpx.AsyncClient, login: Any, fulfillment_spec: Any
) -> None:
    tokens = await login()
    order = (await client.get(ORDERS, headers=tokens.headers)).json()["orders"][0]
    assert not fulfillment_spec.errors("Order", order)
    bad = copy.deepcopy(order)
    bad["lineItems"][0]["lineItemID"] = bad["lineItems"][0].pop("lineItemId")
    assert any("lineItemID" in e for e in fulfillment_spec.errors("Order", bad))
    bad = copy.deepcopy(order)
    bad["pricingSummary"]["total"]["value"] = 12.5
    assert fulfillment_spec.errors("Order", bad)
    bad = copy.deepcopy(order)
    bad["orderFulfillmentStatus"] = "SHIPPED"
    assert fulfillment_spec.errors("Order", bad)


async def test_order_content_is_consistent(
    client: httpx.AsyncClient, login: Any, truth: Any
) -> None:
    for order in await truth("sandbox_seller_2"):
        currency = order["pricingSummary"]["total"]["currency"]
        assert currency == "GBP"
        cents = [round(float(li["total"]["value"]) * 100) for li in order["lineItems"]]
        assert sum(cents) == round(float(order["pricingSummary"]["total"]["value"]) * 100)
        assert modified(order) >= created(order)
        assert order["sellerId"] == "sandbox_seller_2"
        lines = {li["lineItemFulfillmentStatus"] for li in order["lineItems"]}
        status = order["orderFulfillmentStatus"]
        if status == "FULFILLED":
            assert lines == {"FULFILLED"}
        elif status == "NOT_STARTED":
            assert lines == {"NOT_STARTED"}
        else:
            assert lines == {"FULFILLED", "NOT_STARTED"}
        if order["cancelStatus"]["cancelState"] == "CANCELED":
            assert order["orderPaymentStatus"] == "FULLY_REFUNDED"
