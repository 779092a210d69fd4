"""Mapping Post-Order cases, inquiries, returns and payment disputes to rows: pure.

On the contract pack's examples (copied into the sandbox's tests) and on what the sandbox
renders, so the mapping and the simulator cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ebay_sandbox.app import create_app
from ebay_sandbox.settings import SandboxConfig
from writer.domain import MalformedRecordError, Mapped
from writer.mappings.postorder import map_case, map_inquiry, map_payment_dispute, map_return

EXAMPLES = Path(__file__).parents[2] / "ebay-sandbox" / "tests" / "contracts" / "post_order"
Mapper = Callable[[int, dict[str, Any]], Mapped]


def example(name: str) -> dict[str, Any]:
    member = orjson.loads((EXAMPLES / f"{name}_search.response.json").read_bytes())["members"][0]
    assert isinstance(member, dict)
    return member


def dispute() -> dict[str, Any]:
    """A ``PaymentDisputeSummary`` with every field the Fulfillment spec lists."""
    return {
        "paymentDisputeId": "5000012345",
        "paymentDisputeStatus": "ACTION_NEEDED",
        "reason": "ITEM_NOT_RECEIVED",
        "orderId": "12-34567-89012",
        "amount": {"value": "19.99", "currency": "USD"},
        "buyerUsername": "example_buyer",
        "openDate": "2026-02-20T10:00:00.000Z",
        "respondByDate": "2026-03-02T10:00:00.000Z",
    }


def test_a_case_example_maps_to_typed_columns() -> None:
    raw = example("case")
    row = map_case(7, raw).row
    assert row["account_id"] == 7
    assert row["case_id"] == "5111222333"  # a JSON number at eBay, text in the table
    assert row["case_status"] == "OPEN"
    assert (row["item_id"], row["transaction_id"]) == ("110000000001", "0")
    assert row["buyer"] == "example_buyer"
    assert (row["claim_amount_value"], row["claim_amount_currency"]) == (Decimal("19.99"), "USD")
    assert row["creation_date"] == datetime(2026, 2, 20, 10, tzinfo=UTC)
    assert row["last_modified_date"] == datetime(2026, 2, 21, 10, tzinfo=UTC)
    assert row["respond_by_date"] == datetime(2026, 2, 23, 10, tzinfo=UTC)
    assert row["payload"] is raw


def test_an_inquiry_example_maps_to_typed_columns() -> None:
    row = map_inquiry(7, example("inquiry")).row
    assert row["inquiry_id"] == "5222333444"
    assert row["inquiry_status"] == "OPEN"
    assert row["last_modified_date"] == datetime(2026, 2, 18, 10, tzinfo=UTC)
    assert row["claim_amount_value"] == Decimal("19.99")


def test_a_return_example_maps_to_typed_columns() -> None:
    row = map_return(7, example("return")).row
    assert row["return_id"] == "5000123456"
    assert (row["state"], row["status"]) == ("RETURN_REQUESTED", "WAITING_FOR_RETURN_LABEL")
    assert row["current_type"] == "MONEY_BACK"
    assert (row["item_id"], row["transaction_id"]) == ("110000000001", "0")
    assert row["buyer_login_name"] == "example_buyer"
    assert row["seller_total_refund_value"] == Decimal("19.99")
    assert row["seller_total_refund_currency"] == "USD"
    assert row["creation_date"] == datetime(2026, 2, 27, 9, 12, 44, tzinfo=UTC)
    assert row["seller_response_due"] == datetime(2026, 3, 2, 9, 12, 44, tzinfo=UTC)


def test_a_made_refund_is_the_returns_total() -> None:
    raw = example("return")
    raw["sellerTotalRefund"]["actualRefundAmount"] = {"value": 17.5, "currency": "USD"}
    assert map_return(7, raw).row["seller_total_refund_value"] == Decimal("17.5")


def test_a_payment_dispute_maps_to_typed_columns() -> None:
    row = map_payment_dispute(7, dispute()).row
    assert row["payment_dispute_id"] == "5000012345"
    assert row["payment_dispute_status"] == "ACTION_NEEDED"
    assert (row["reason"], row["order_id"]) == ("ITEM_NOT_RECEIVED", "12-34567-89012")
    assert (row["amount_value"], row["amount_currency"]) == (Decimal("19.99"), "USD")
    assert row["open_date"] == datetime(2026, 2, 20, 10, tzinfo=UTC)
    assert row["closed_date"] is None
    assert row["respond_by_date"] == datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("mapper", "raw", "path", "value"),
    [
        (map_case, example("case"), ("caseId",), None),
        (map_case, example("case"), ("creationDate",), None),
        (map_case, example("case"), ("creationDate", "value"), "Feb 20, 2026"),
        (map_inquiry, example("inquiry"), ("inquiryId",), ""),
        (map_inquiry, example("inquiry"), ("lastModifiedDate", "value"), "2026-02-18T10:00:00"),
        (map_return, example("return"), ("returnId",), True),
        (map_return, example("return"), ("creationInfo", "creationDate"), None),
        (map_payment_dispute, dispute(), ("paymentDisputeId",), 5),
        (map_payment_dispute, dispute(), ("openDate",), None),
        (map_payment_dispute, dispute(), ("closedDate",), "yesterday"),
    ],
)
def test_a_record_without_its_id_or_dates_is_malformed(
    mapper: Mapper, raw: dict[str, Any], path: tuple[str, ...], value: object
) -> None:
    container = raw
    for step in path[:-1]:
        container = container[step]
    container[path[-1]] = value
    with pytest.raises(MalformedRecordError):
        mapper(7, raw)


@pytest.mark.parametrize("mapper", [map_case, map_inquiry])
def test_a_claim_without_last_modified_date_is_versioned_by_its_newest_date(
    mapper: Mapper,
) -> None:
    raw = example("inquiry" if mapper is map_inquiry else "case")
    del raw["lastModifiedDate"]
    created = datetime.fromisoformat(raw["creationDate"]["value"])
    assert mapper(7, raw).row["last_modified_date"] == created
    raw["lastModifiedDate"] = None  # sent as null: the same as left out
    assert mapper(7, raw).row["last_modified_date"] == created
    raw["history"] = [
        {"activity": "OPEN", "creationDate": {"value": "2026-02-19T08:00:00.000Z"}},
        {"activity": "CLOSED", "creationDate": {"value": "2026-02-25T09:30:00.000Z"}},
        {"activity": "NOTE"},
    ]
    newest = datetime(2026, 2, 25, 9, 30, tzinfo=UTC)
    assert mapper(7, raw).row["last_modified_date"] == newest
    # The deadline is not a modification.
    raw["respondByDate"] = {"value": "2027-01-01T00:00:00.000Z"}
    assert mapper(7, raw).row["last_modified_date"] == newest


MAPPERS: dict[str, tuple[Mapper, str, str]] = {
    "cases": (map_case, "members", "case_id"),
    "inquiries": (map_inquiry, "members", "inquiry_id"),
    "returns": (map_return, "members", "return_id"),
    "payment_disputes": (map_payment_dispute, "paymentDisputeSummaries", "payment_dispute_id"),
}


@pytest.mark.parametrize("family", sorted(MAPPERS))
async def test_everything_the_sandbox_renders_maps(family: str) -> None:
    mapper, collection, key = MAPPERS[family]
    config = SandboxConfig(sellers=1, profile="small", orders_per_day=40, clock_frozen=True)
    transport = httpx.ASGITransport(app=create_app(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        response = await http.get(f"/sandbox/sellers/sandbox_seller_1/{family}")
    records = response.json()[collection]
    assert len(records) > 3
    rows = [mapper(1, record).row for record in records]
    assert len({row[key] for row in rows}) == len(rows)
    assert all(row["payload"] is record for row, record in zip(rows, records, strict=True))
    # Open and closed ones alike: both kinds are in a seller's history.
    assert len({_status(family, row) for row in rows}) > 1


def _status(family: str, row: dict[str, Any]) -> str:
    column = {
        "cases": "case_status",
        "inquiries": "inquiry_status",
        "returns": "state",
        "payment_disputes": "payment_dispute_status",
    }[family]
    return str(row[column])
