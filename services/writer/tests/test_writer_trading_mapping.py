"""Trading records (as ``common.ebay.xml`` converts the contract samples) mapped to rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from common.ebay.trading import (
    ACTIVE_ITEM_PATH,
    MESSAGE_PATH,
    WON_TRANSACTION_PATH,
    active_listing_record,
)
from common.ebay.xml import parse_document
from writer.domain import MalformedRecordError
from writer.mappings.trading import map_active_listing, map_message, map_purchase

EXAMPLES = Path("/work/shared/ebay-contracts/trading/examples")


def records(name: str, path: tuple[str, ...]) -> list[dict[str, Any]]:
    return parse_document((EXAMPLES / name).read_bytes(), path)[0]


def test_a_message_maps_to_its_row() -> None:
    [raw] = records("GetMyMessages_ReturnHeaders.response.xml", MESSAGE_PATH)
    mapped = map_message(7, raw)
    assert mapped.row == {
        "account_id": 7,
        "message_id": "200000000001",
        "sender": "example_buyer",
        "recipient": "example_seller",
        "subject": "Question about item 110000000001",
        "receive_date": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        "folder_id": 0,
        "is_read": False,
        "flagged": False,
        "replied": False,
        "archived": False,
        "item_id": "110000000001",
        "payload": raw,
    }
    assert mapped.children == {}


def test_a_message_filed_into_the_archive_folder_is_archived() -> None:
    [raw] = records("GetMyMessages_ReturnHeaders.response.xml", MESSAGE_PATH)
    filed = {
        **raw,
        "Folder": {"FolderID": "5123456789", "FolderName": "Archive"},
        "Replied": "true",
    }
    row = map_message(7, filed).row
    assert (row["folder_id"], row["archived"], row["replied"]) == (5_123_456_789, True, True)
    elsewhere = {**raw, "Folder": {"FolderID": "5123456790", "FolderName": "Follow-up"}}
    assert map_message(7, elsewhere).row["archived"] is False


def test_active_listings_map_with_their_price() -> None:
    fixed, auction = (
        active_listing_record(item)
        for item in records("GetMyeBaySelling_ActiveList_page1.response.xml", ACTIVE_ITEM_PATH)
    )
    assert "TimeLeft" not in fixed
    assert map_active_listing(3, fixed).row == {
        "account_id": 3,
        "item_id": "110000000001",
        "sku": "WIDGET-001",
        "title": "Example Widget",
        "listing_type": "FixedPriceItem",
        "quantity": 5,
        "quantity_available": 3,
        "current_price_value": Decimal("19.99"),
        "current_price_currency": "USD",
        "start_time": datetime(2026, 2, 20, 18, 41, 4, tzinfo=UTC),
        "payload": fixed,
    }
    row = map_active_listing(3, auction).row
    assert row["sku"] is None and row["listing_type"] == "Chinese"
    assert row["current_price_value"] == Decimal("12.50")


def test_a_won_list_order_transaction_maps_to_a_purchase() -> None:
    [raw] = records("GetMyeBayBuying_WonList.response.xml", WON_TRANSACTION_PATH)
    assert map_purchase(4, raw).row == {
        "account_id": 4,
        "order_line_item_id": "120000000009-0",
        "order_id": None,
        "item_id": "120000000009",
        "transaction_id": "0",
        "seller_user_id": "some_other_seller",
        "title": "Supplies for resale",
        "quantity": 1,
        "price_value": Decimal("8.75"),
        "price_currency": "USD",
        "created_date": datetime(2026, 2, 25, 12, 0, tzinfo=UTC),
        "payload": raw,
    }


def test_a_containing_order_names_the_purchase_order() -> None:
    [raw] = records("GetMyeBayBuying_WonList.response.xml", WON_TRANSACTION_PATH)
    raw["Transaction"]["ContainingOrder"] = {"OrderID": "12-34567-89012"}
    assert map_purchase(4, raw).row["order_id"] == "12-34567-89012"


@pytest.mark.parametrize(
    ("mapper", "raw"),
    [
        (map_message, {"Subject": "no id"}),
        (map_active_listing, {"Title": "no id"}),
        (map_purchase, {"Order": {"OrderID": "1"}}),
        (map_purchase, {"Transaction": {"CreatedDate": "2026-02-25T12:00:00.000Z"}}),
        (map_message, {"MessageID": "1", "ReceiveDate": "yesterday"}),
        (
            map_active_listing,
            {"ItemID": "1", "SellingStatus": {"CurrentPrice": {"#text": "x", "@currencyID": "X"}}},
        ),
    ],
)
def test_records_missing_what_the_contract_promises_are_refused(
    mapper: Any, raw: dict[str, Any]
) -> None:
    with pytest.raises(MalformedRecordError):
        mapper(1, raw)
