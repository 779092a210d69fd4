"""Mapping raw Finances transactions and payouts to rows: pure, on contract-shaped samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from writer.domain import MalformedRecordError
from writer.mappings.finances import map_payout, map_transaction

# eBay's own Finances OpenAPI file, as the sandbox's contract tests keep it.
SPEC = (
    Path(__file__).resolve().parents[2] / "ebay-sandbox/tests/contracts/sell_finances_v1_oas3.json"
)
WHEN = datetime(2026, 11, 2, 8, 15, 30, 250000, tzinfo=UTC)


def strict(node: Any) -> Any:
    """An OpenAPI schema as strict JSON Schema: unknown properties are errors."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if k not in ("description", "example")}
    if "$ref" in node:
        out["$ref"] = "urn:ebay:" + node["$ref"].removeprefix("#/components/schemas/")
    if "properties" in node:
        out["properties"] = {k: strict(v) for k, v in node["properties"].items()}
        out["additionalProperties"] = False
    if "enum" in out and out.get("type") == "object":  # eBay types its enums as objects
        out["type"] = "string"
    return out


@pytest.fixture(scope="module")
def registry() -> Registry[Any]:
    schemas = json.loads(SPEC.read_text())["components"]["schemas"]
    return Registry().with_resources(
        (f"urn:ebay:{name}", Resource.from_contents(strict(s), default_specification=DRAFT202012))
        for name, s in schemas.items()
    )


def assert_contract(registry: Registry[Any], schema: str, instance: dict[str, Any]) -> None:
    validator = Draft202012Validator({"$ref": f"urn:ebay:{schema}"}, registry=registry)
    assert [e.message for e in validator.iter_errors(instance)] == []


def sale() -> dict[str, Any]:
    return {
        "transactionId": "12-34567-89012",
        "orderId": "12-34567-89012",
        "payoutId": "5123456789",
        "salesRecordReference": "1042",
        "buyer": {"username": "buyer_7"},
        "transactionType": "SALE",
        "amount": {"value": "86.43", "currency": "GBP"},
        "totalFeeBasisAmount": {"value": "100.00", "currency": "GBP"},
        "totalFeeAmount": {"value": "13.57", "currency": "GBP"},
        "orderLineItems": [
            {
                "lineItemId": "10012345678901",
                "feeBasisAmount": {"value": "100.00", "currency": "GBP"},
                "marketplaceFees": [
                    {"feeType": "FINAL_VALUE_FEE", "amount": {"value": "13.27", "currency": "GBP"}}
                ],
            }
        ],
        "bookingEntry": "CREDIT",
        "transactionDate": "2026-11-02T08:15:30.250Z",
        "transactionStatus": "PAYOUT",
        "paymentsEntity": "eBay Commerce UK Ltd.",
    }


def store_fee() -> dict[str, Any]:
    return {
        "transactionId": "812345678901",
        "salesRecordReference": "0",
        "transactionType": "NON_SALE_CHARGE",
        "amount": {"value": "25.95", "currency": "USD"},
        "feeType": "EBAY_STORE_SUBSCRIPTION_FEE",
        "bookingEntry": "DEBIT",
        "transactionDate": "2026-11-01T00:00:00.000Z",
        "transactionStatus": "FUNDS_AVAILABLE_FOR_PAYOUT",
        "transactionMemo": "eBay Store subscription fee",
    }


def payout() -> dict[str, Any]:
    return {
        "payoutId": "5123456789",
        "payoutStatus": "SUCCEEDED",
        "payoutStatusDescription": "Funds sent",
        "amount": {"value": "412.08", "currency": "EUR"},
        "payoutDate": "2026-11-02T08:15:30.250Z",
        "lastAttemptedPayoutDate": "2026-11-01T08:15:30.000Z",
        "transactionCount": 7,
        "payoutInstrument": {
            "instrumentType": "BANK",
            "nickname": "Business checking",
            "accountLastFourDigits": "4321",
        },
    }


def test_the_samples_follow_the_contract(registry: Registry[Any]) -> None:
    assert_contract(registry, "Transaction", sale())
    assert_contract(registry, "Transaction", store_fee())
    assert_contract(registry, "Payout", payout())
    # The check can fail: a field eBay does not define is refused.
    with pytest.raises(AssertionError):
        assert_contract(registry, "Payout", {**payout(), "payoutState": "SUCCEEDED"})


def test_a_sale_maps_to_typed_columns_and_keeps_its_payload() -> None:
    raw = sale()
    row = map_transaction(3, raw).row
    assert row == {
        "account_id": 3,
        "transaction_id": "12-34567-89012",
        "transaction_type": "SALE",
        "transaction_status": "PAYOUT",
        "transaction_date": WHEN,
        "order_id": "12-34567-89012",
        "payout_id": "5123456789",
        "amount_value": Decimal("86.43"),
        "amount_currency": "GBP",
        "booking_entry": "CREDIT",
        "fee_type": None,
        "total_fee_value": Decimal("13.57"),
        "total_fee_currency": "GBP",
        "buyer_username": "buyer_7",
        "payload": raw,
    }
    assert row["payload"] is raw


def test_a_charge_without_order_buyer_or_payout_maps_to_nulls() -> None:
    row = map_transaction(3, store_fee()).row
    assert (row["order_id"], row["payout_id"], row["buyer_username"]) == (None, None, None)
    assert row["fee_type"] == "EBAY_STORE_SUBSCRIPTION_FEE"
    assert row["booking_entry"] == "DEBIT"
    assert (row["total_fee_value"], row["total_fee_currency"]) == (None, None)


def test_a_payout_maps_to_typed_columns_and_keeps_its_payload() -> None:
    raw = payout()
    row = map_payout(9, raw).row
    assert row == {
        "account_id": 9,
        "payout_id": "5123456789",
        "payout_status": "SUCCEEDED",
        "payout_date": WHEN,
        "amount_value": Decimal("412.08"),
        "amount_currency": "EUR",
        "last_attempted_payout_date": datetime(2026, 11, 1, 8, 15, 30, tzinfo=UTC),
        "transaction_count": 7,
        "payload": raw,
    }


def test_a_payout_that_never_failed_has_no_last_attempt() -> None:
    raw = payout()
    del raw["lastAttemptedPayoutDate"]
    assert map_payout(9, raw).row["last_attempted_payout_date"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transactionId", None),
        ("transactionType", ""),
        ("transactionDate", None),
        ("transactionDate", "2026-11-02T08:15:30"),
    ],
)
def test_a_transaction_without_what_the_contract_promises_is_refused(
    field: str, value: object
) -> None:
    raw = sale()
    raw[field] = value
    with pytest.raises(MalformedRecordError):
        map_transaction(1, raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [("payoutId", None), ("payoutDate", None), ("lastAttemptedPayoutDate", "soon")],
)
def test_a_payout_without_what_the_contract_promises_is_refused(field: str, value: object) -> None:
    raw = payout()
    raw[field] = value
    with pytest.raises(MalformedRecordError):
        map_payout(1, raw)


def test_a_non_numeric_amount_is_refused() -> None:
    raw = payout()
    raw["amount"] = {"value": "lots", "currency": "EUR"}
    with pytest.raises(MalformedRecordError):
        map_payout(1, raw)
