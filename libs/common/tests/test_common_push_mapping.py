"""What a notification names (common.push), from the contracts' payloads: a NEW_MESSAGE names
its message (not its conversation) and asks for a span window; an inquiry names its id; a
Trading listing event names its ItemID (docs/adr/0018-push-notifications.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from common.ebay.trading_items import listed_item
from common.families import Family
from common.push import SPAN_TOPICS, rest_notice, trading_notice

CONTRACTS = Path(__file__).parent / "contracts"


def examples(contract: str, schema: str) -> dict[str, Any]:
    """The ``example`` of every property of one schema of an AsyncAPI contract."""
    spec = yaml.safe_load((CONTRACTS / contract).read_text())
    properties = spec["components"]["schemas"][schema]["properties"]
    return {name: p["example"] for name, p in properties.items() if "example" in p}


def envelope(topic: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"topic": topic, "schemaVersion": "1.0", "deprecated": False},
        "notification": {
            "notificationId": "n-1",
            "eventDate": "2025-04-21T08:16:20.000Z",
            "publishDate": "2025-04-21T08:16:21.000Z",
            "publishAttemptCount": 1,
            "data": data,
        },
    }


def test_new_message_names_its_message_not_its_conversation_and_asks_for_a_span() -> None:
    data = examples("new_message.asyncapi.yaml", "NewMessageData")
    assert data["messageId"] != data["conversationId"]  # the contract's two ids differ
    data |= {"recipientUserName": "seller_1", "senderUserName": "buyer_1"}
    notice = rest_notice(envelope("NEW_MESSAGE", data))
    assert notice.family is Family.MESSAGES
    assert notice.targets == (data["messageId"],)
    assert notice.username == "seller_1"
    # Whether messageId is a Trading MessageID is UNCONFIRMED: its window re-reads a span.
    assert SPAN_TOPICS["NEW_MESSAGE"] > timedelta(0)


def test_an_inquiry_activity_names_the_inquiry_and_its_seller() -> None:
    data = {
        "activityType": "INQUIRY_CREATED",
        "orderInquiry": {
            "inquiryId": "5098765432",
            "type": "ITEM_NOT_RECEIVED",
            "inquiryStatus": "OPEN",
            "seller": {"userId": "u-seller"},
            "inquiryLineItems": [{"orderId": "27-1-1", "orderLineItemId": "1"}],
        },
    }
    notice = rest_notice(envelope("ORDER_INQUIRY_ACTIVITY", data))
    assert notice.family is Family.INQUIRIES
    assert notice.targets == ("5098765432",)
    assert notice.ebay_user_id == "u-seller"
    assert "ORDER_INQUIRY_ACTIVITY" not in SPAN_TOPICS


def test_a_trading_item_revised_names_the_listing() -> None:
    body = (
        b'<GetItemResponse xmlns="urn:ebay:apis:eBLBaseComponents">'
        b"<Timestamp>2026-01-01T00:00:00.000Z</Timestamp><Ack>Success</Ack>"
        b"<NotificationEventName>ItemRevised</NotificationEventName>"
        b"<RecipientUserID>seller_1</RecipientUserID><Item><ItemID>110000000001</ItemID>"
        b"</Item></GetItemResponse>"
    )
    notice = trading_notice(body, "2026-01-01T00:00:00.000Z")
    assert notice.family is Family.ACTIVE_INVENTORY
    assert notice.targets == ("110000000001",)


def test_a_get_item_is_stored_as_the_active_list_has_it() -> None:
    item = {
        "ItemID": "110000000001",
        "SellingStatus": {"QuantitySold": "2", "ListingStatus": "Active"},
        "TimeLeft": "P1D",
        "Title": "a thing",
    }
    live = listed_item(item)
    assert not live.ended
    assert live.record == {
        "ItemID": "110000000001",
        "SellingStatus": {"QuantitySold": "2"},
        "Title": "a thing",
    }
    for status in ("Completed", "Ended"):
        ended = listed_item({**item, "SellingStatus": {"ListingStatus": status}})
        assert ended.ended and ended.record["SellingStatus"] == {}
