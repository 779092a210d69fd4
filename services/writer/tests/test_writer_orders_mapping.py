"""Mapping raw eBay orders to rows: pure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from common.db.orders import LINE_ITEMS
from testkit.ebay_samples import make_order
from writer.domain import MalformedRecordError
from writer.mappings.orders import map_order

MODIFIED = datetime(2026, 11, 1, 12, 30, 15, 123000, tzinfo=UTC)


def test_an_order_maps_to_typed_columns_and_keeps_its_payload() -> None:
    raw = make_order("01-00001-00001", modified=MODIFIED, total="12.50", line_items=2)
    mapped = map_order(7, raw)
    order, items = mapped.row, mapped.children[LINE_ITEMS]
    assert order["account_id"] == 7
    assert order["order_id"] == "01-00001-00001"
    assert order["last_modified_date"] == MODIFIED
    assert order["total_value"] == Decimal("12.50")
    assert order["total_currency"] == "USD"
    assert order["payload"] is raw
    assert [i["line_item_id"] for i in items] == ["01-00001-00001-L0", "01-00001-00001-L1"]
    assert all(i["order_last_modified_date"] == MODIFIED for i in items)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orderId", None),
        ("lastModifiedDate", "yesterday"),
        ("creationDate", None),
        ("lastModifiedDate", "2026-11-01T12:00:00"),
    ],
)
def test_an_order_without_what_the_contract_promises_is_refused(field: str, value: object) -> None:
    raw = make_order("01-00001-00002", modified=MODIFIED)
    raw[field] = value
    with pytest.raises(MalformedRecordError):
        map_order(1, raw)


def test_a_non_numeric_amount_is_refused() -> None:
    raw = make_order("01-00001-00003", modified=MODIFIED, total="abc")
    with pytest.raises(MalformedRecordError):
        map_order(1, raw)
