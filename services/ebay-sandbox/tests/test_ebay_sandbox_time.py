"""Advancing the clock changes every family the way its API's filters will see it."""

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
Advance = Callable[[float], Awaitable[str]]
NS = "{urn:ebay:apis:eBLBaseComponents}"
DAY_S = 86_400
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
# More orders than the default, so rare flows (disputes, cases) occur within a test.
BUSY = [{"orders_per_day": 60}]


async def truth(client: httpx.AsyncClient, family: str, **params: str) -> httpx.Response:
    resp = await client.get(f"/sandbox/sellers/sandbox_seller_1/{family}", params=params)
    assert resp.status_code == 200, resp.text
    return resp


def by(items: list[Json], key: str) -> dict[str, Json]:
    return {str(i[key]): i for i in items}


async def test_transactions_appear_and_settle(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], advance: Advance
) -> None:
    before = by((await truth(client, "transactions")).json()["transactions"], "transactionId")
    then = await advance(0)
    await advance(3 * DAY_S)
    after = by((await truth(client, "transactions")).json()["transactions"], "transactionId")
    new = set(after) - set(before)
    assert new and all(after[t]["transactionDate"] > then for t in new)
    order = ["FUNDS_PROCESSING", "FUNDS_AVAILABLE_FOR_PAYOUT", "PAYOUT", "COMPLETED"]
    moved = {t for t in before if after[t]["transactionStatus"] != before[t]["transactionStatus"]}
    assert moved
    for t in moved:
        assert order.index(after[t]["transactionStatus"]) > order.index(
            before[t]["transactionStatus"]
        )
        assert after[t]["transactionDate"] == before[t]["transactionDate"]
        if after[t]["transactionStatus"] in ("PAYOUT", "COMPLETED") and "payoutId" not in before[t]:
            assert "payoutId" in after[t] or after[t]["transactionStatus"] == "COMPLETED"
    # A transactionDate window from the old "now" sees exactly the new transactions: status
    # changes of older ones are invisible to that filter, as at eBay.
    tokens = await login()
    resp = await client.get(
        "/sell/finances/v1/transaction",
        params={"filter": f"transactionDate:[{then}..]", "limit": "1000"},
        headers=tokens.headers,
    )
    assert {t["transactionId"] for t in resp.json()["transactions"]} == new


async def test_payouts_are_initiated_then_settle(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], advance: Advance
) -> None:
    before = by((await truth(client, "payouts")).json()["payouts"], "payoutId")
    assert any(p["payoutStatus"] == "INITIATED" for p in before.values())
    then = await advance(0)
    await advance(4 * DAY_S)
    after = by((await truth(client, "payouts")).json()["payouts"], "payoutId")
    new = set(after) - set(before)
    assert len(new) == 4, "one payout a day"
    for payout_id, old in before.items():
        if old["payoutStatus"] == "INITIATED":
            assert after[payout_id]["payoutStatus"] == "SUCCEEDED"
        assert after[payout_id]["payoutDate"] == old["payoutDate"]
    # Transactions that went into a payout now name it.
    transactions = (await truth(client, "transactions")).json()["transactions"]
    paid = {t["payoutId"] for t in transactions if "payoutId" in t}
    assert new <= paid
    tokens = await login()
    resp = await client.get(
        "/sell/finances/v1/payout",
        params={"filter": f"payoutDate:[{then}..]"},
        headers=tokens.headers,
    )
    assert {p["payoutId"] for p in resp.json()["payouts"]} == new


@pytest.mark.parametrize("config_overrides", BUSY)
async def test_cases_close_weeks_later_and_stay_in_their_creation_window(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], advance: Advance
) -> None:
    before = by((await truth(client, "cases")).json()["members"], "caseId")
    open_before = {c for c, m in before.items() if m["caseStatusEnum"] == "OPEN"}
    assert open_before
    then = await advance(0)
    await advance(40 * DAY_S)
    after = by((await truth(client, "cases")).json()["members"], "caseId")
    for case_id in open_before:
        old, cur = before[case_id], after[case_id]
        assert cur["caseStatusEnum"] == "CLOSED"
        assert cur["lastModifiedDate"]["value"] > old["lastModifiedDate"]["value"]
        assert cur["creationDate"] == old["creationDate"]
        assert "respondByDate" not in cur
    tokens = await login()
    one = before[next(iter(open_before))]
    created = datetime.fromisoformat(one["creationDate"]["value"])
    window = {
        "case_creation_date_range_from": iso(created - timedelta(seconds=1)),
        "case_creation_date_range_to": iso(created + timedelta(seconds=1)),
    }
    found = (
        await client.get("/post-order/v2/casemanagement/search", params=window, headers=tokens.iaf)
    ).json()
    assert [m["caseId"] for m in found["members"]] == [one["caseId"]]
    assert found["members"][0]["caseStatusEnum"] == "CLOSED"
    # A creation-date window from the old "now" does not see the change: hence open refreshes.
    recent = (
        await client.get(
            "/post-order/v2/casemanagement/search",
            params={"case_creation_date_range_from": then},
            headers=tokens.iaf,
        )
    ).json()
    assert one["caseId"] not in {m["caseId"] for m in recent["members"]}


@pytest.mark.parametrize("config_overrides", BUSY)
async def test_returns_and_inquiries_progress(client: httpx.AsyncClient, advance: Advance) -> None:
    returns = by((await truth(client, "returns")).json()["members"], "returnId")
    inquiries = by((await truth(client, "inquiries")).json()["members"], "inquiryId")
    await advance(30 * DAY_S)
    later_returns = by((await truth(client, "returns")).json()["members"], "returnId")
    later_inquiries = by((await truth(client, "inquiries")).json()["members"], "inquiryId")
    steps = [
        "RETURN_REQUESTED",
        "ITEM_READY_TO_SHIP",
        "ITEM_SHIPPED",
        "ITEM_DELIVERED",
        "RETURN_ESCALATED",
        "CLOSED",
    ]
    moved = [r for r in returns if later_returns[r]["state"] != returns[r]["state"]]
    assert moved
    for return_id in moved:
        assert steps.index(later_returns[return_id]["state"]) > steps.index(
            returns[return_id]["state"]
        )
    refunded = [r for r in later_returns.values() if "actualRefundAmount" in r["sellerTotalRefund"]]
    assert refunded
    for inquiry_id, old in inquiries.items():
        if old["inquiryStatusEnum"] == "OPEN":
            assert later_inquiries[inquiry_id]["inquiryStatusEnum"] in (
                "CLOSED",
                "CLOSED_WITH_ESCALATION",
            )
            assert later_inquiries[inquiry_id]["lastModifiedDate"] != old["lastModifiedDate"]


async def test_a_refunded_return_refunds_the_order_and_shows_in_finances(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
) -> None:
    tokens = await login()
    returns = (await truth(client, "returns")).json()["members"]
    done = next(r for r in returns if "actualRefundAmount" in r["sellerTotalRefund"])
    detail = (
        await client.get(f"/post-order/v2/return/{done['returnId']}", headers=tokens.iaf)
    ).json()
    item_id = detail["detail"]["itemDetail"]["itemId"]
    orders = (await truth(client, "orders")).json()["orders"]
    order = next(
        o
        for o in orders
        if any(li["legacyItemId"] == item_id and li["refunds"] for li in o["lineItems"])
    )
    assert order["orderPaymentStatus"] in ("PARTIALLY_REFUNDED", "FULLY_REFUNDED")
    resp = await client.get(
        "/sell/finances/v1/transaction",
        params={"filter": f"orderId:{{{order['orderId']}}},transactionType:{{REFUND}}"},
        headers=tokens.headers,
    )
    assert resp.status_code == 200 and resp.json()["total"] == 1


@pytest.mark.parametrize("config_overrides", BUSY)
async def test_payment_disputes_progress(client: httpx.AsyncClient, advance: Advance) -> None:
    before = by(
        (await truth(client, "payment_disputes")).json()["paymentDisputeSummaries"],
        "paymentDisputeId",
    )
    assert any(d["paymentDisputeStatus"] != "CLOSED" for d in before.values())
    await advance(45 * DAY_S)
    after = by(
        (await truth(client, "payment_disputes")).json()["paymentDisputeSummaries"],
        "paymentDisputeId",
    )
    for dispute_id, old in before.items():
        if old["paymentDisputeStatus"] != "CLOSED":
            assert after[dispute_id]["paymentDisputeStatus"] == "CLOSED"
            assert "closedDate" in after[dispute_id]


def _items(body: bytes, path: str, key: str = "ItemID") -> dict[str, ET.Element]:
    root = ET.fromstring(body)
    found = root.findall("/".join(NS + p for p in path.split("/")))
    return {e.findtext(NS + key) or "": e for e in found}


async def test_listings_end_and_relist_and_offers_follow(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], advance: Advance
) -> None:
    before = _items((await truth(client, "active_listings")).content, "ActiveList/ItemArray/Item")
    offers = by((await truth(client, "offers")).json()["offers"], "sku")
    items = by((await truth(client, "inventory_items")).json()["inventoryItems"], "sku")
    await advance(30 * DAY_S)
    after = _items((await truth(client, "active_listings")).content, "ActiveList/ItemArray/Item")
    ended = set(before) - set(after)
    assert ended and set(after) - set(before), "listings end and new ones start"
    later_offers = by((await truth(client, "offers")).json()["offers"], "sku")
    relisted = [
        s
        for s in offers
        if later_offers[s]["listing"]["listingId"] != offers[s]["listing"]["listingId"]
    ]
    assert relisted, "a relisted SKU's offer points at the new listing"
    for sku in relisted:
        assert offers[sku]["listing"]["listingId"] in ended
    later_items = by((await truth(client, "inventory_items")).json()["inventoryItems"], "sku")
    assert any(later_items[s]["availability"] != items[s]["availability"] for s in items), (
        "sales and relisting change the available quantity"
    )
    tokens = await login()
    gone = next(iter(ended))
    reply = (
        await client.get(
            "/sell/inventory/v1/offer",
            params={"sku": before[gone].findtext(f"{NS}SKU")},
            headers=tokens.headers,
        )
    ).json()
    assert (
        reply["offers"][0]["listing"]["listingId"] != gone
        or reply["offers"][0]["listing"]["listingStatus"] == "ENDED"
    )


async def test_messages_arrive_and_get_read(
    client: httpx.AsyncClient,
    trading: TradingFn,
    login: Callable[..., Awaitable[Login]],
    advance: Advance,
) -> None:
    before = _items((await truth(client, "messages")).content, "Messages/Message", "MessageID")
    then = await advance(0)
    await advance(3 * DAY_S)
    after = _items((await truth(client, "messages")).content, "Messages/Message", "MessageID")
    new = set(after) - set(before)
    assert new and all((after[m].findtext(f"{NS}ReceiveDate") or "") > then for m in new)
    read = [
        m
        for m in before
        if before[m].findtext(f"{NS}Read") == "false" and after[m].findtext(f"{NS}Read") == "true"
    ]
    assert read, "messages get read"
    token = (await login()).access_token
    summary = await trading(
        "GetMyMessages", "<DetailLevel>ReturnSummary</DetailLevel>", token=token
    )
    folders = [int(f.text or "") for f in summary.findall("Summary/FolderSummary/FolderID")]
    assert folders[:2] == [0, 1], "Inbox and Sent first, then the custom folders"
    by_folder: dict[int, set[str]] = {}
    for folder in folders:
        inner = (
            f"<DetailLevel>ReturnHeaders</DetailLevel><FolderID>{folder}</FolderID>"
            f"<StartTime>{then}</StartTime>"
            "<Pagination><EntriesPerPage>200</EntriesPerPage></Pagination>"
        )
        reply = await trading("GetMyMessages", inner, token=token)
        by_folder[folder] = {m.text or "" for m in reply.findall("Messages/Message/MessageID")}
    assert set().union(*by_folder.values()) == new, "every new message is in exactly one folder"
    assert sum(map(len, by_folder.values())) == len(new)
    assert all(by_folder.values()), "the seller replies (Sent) and files messages away"


async def test_purchases_roll_through_the_sixty_day_window(
    client: httpx.AsyncClient, advance: Advance
) -> None:
    def ids(body: bytes) -> set[str]:
        root = ET.fromstring(body)
        parts = ("WonList", "OrderTransactionArray", "OrderTransaction", "Transaction")
        path = "/".join(NS + p for p in (*parts, "TransactionID"))
        return {e.text or "" for e in root.findall(path)}

    before = ids((await truth(client, "purchases")).content)
    await advance(30 * DAY_S)
    after = ids((await truth(client, "purchases")).content)
    assert before - after and after - before
