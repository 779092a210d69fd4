"""Where each family's source of truth is, and how its records line up with the mirror.

``ebaysync verify`` reads a seller's records from the sandbox's ground truth
(``GET /sandbox/sellers/{username}/{path}``), parses them into exactly the raw records the
fetcher publishes (so a record and its mirrored ``payload`` compare equal), and matches them to
the family table's rows by natural key.

To add a family: one :class:`FamilyTruth` in :data:`TRUTHS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from common.db.base import MirroredRow
from common.db.finances import EbayPayout, EbayTransaction
from common.db.offers import EbayOffer
from common.db.orders import EbayOrder
from common.db.postorder import EbayCase, EbayInquiry, EbayPaymentDispute, EbayReturn
from common.db.trading import EbayActiveListing, EbayMessage, EbayPurchase
from common.ebay.trading import (
    ACTIVE_ITEM_PATH,
    MESSAGE_PATH,
    WON_TRANSACTION_PATH,
    active_listing_record,
)
from common.ebay.xml import parse_document
from common.families import Family

Record = dict[str, Any]


def json_collection(key: str) -> Callable[[bytes], list[Record]]:
    """Records of a JSON ground truth ``{"<key>": [...]}``."""

    def parse(body: bytes) -> list[Record]:
        records = orjson.loads(body).get(key) or []
        assert isinstance(records, list)
        return records

    return parse


def xml_records(
    record_path: tuple[str, ...], as_published: Callable[[Record], Record] = lambda r: r
) -> Callable[[bytes], list[Record]]:
    """Records of a Trading (XML) ground truth: the elements at ``record_path`` below the root,
    converted exactly as the fetcher converts a response (``common.ebay.xml``)."""

    def parse(body: bytes) -> list[Record]:
        records, _envelope = parse_document(body, record_path)
        return [as_published(record) for record in records]

    return parse


def iso_field(*path: str) -> Callable[[Record], datetime | None]:
    """The ISO-8601 timestamp at ``path`` in a record (eBay's ``…Z`` form included)."""

    def read(record: Record) -> datetime | None:
        value: Any = record
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if not isinstance(value, str):
            return None
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    return read


@dataclass(frozen=True)
class FamilyTruth:
    family: Family
    # The ground-truth family name at the sandbox (``/sandbox/sellers/{username}/{path}``).
    path: str
    # The response body as the raw records the fetcher publishes, in any order.
    records: Callable[[bytes], list[Record]]
    # A raw record's natural key: the value of ``key_column`` in its mirrored row.
    key: Callable[[Record], str]
    table: type[MirroredRow]
    key_column: str
    # Incremental families: the date their window filters on (``date_from``/``date_to`` at the
    # sandbox). A record dated after the pair's cursor is not due yet. None for snapshots.
    date: Callable[[Record], datetime | None] | None


TRUTHS: dict[Family, FamilyTruth] = {
    Family.ORDERS: FamilyTruth(
        family=Family.ORDERS,
        path="orders",
        records=json_collection("orders"),
        key=lambda record: str(record["orderId"]),
        table=EbayOrder,
        key_column="order_id",
        date=iso_field("lastModifiedDate"),
    ),
    # Post-Order searches filter on the creation date; ids may be JSON numbers.
    Family.CASES: FamilyTruth(
        family=Family.CASES,
        path="cases",
        records=json_collection("members"),
        key=lambda record: str(record["caseId"]),
        table=EbayCase,
        key_column="case_id",
        date=iso_field("creationDate", "value"),
    ),
    Family.INQUIRIES: FamilyTruth(
        family=Family.INQUIRIES,
        path="inquiries",
        records=json_collection("members"),
        key=lambda record: str(record["inquiryId"]),
        table=EbayInquiry,
        key_column="inquiry_id",
        date=iso_field("creationDate", "value"),
    ),
    Family.RETURNS: FamilyTruth(
        family=Family.RETURNS,
        path="returns",
        records=json_collection("members"),
        key=lambda record: str(record["returnId"]),
        table=EbayReturn,
        key_column="return_id",
        date=iso_field("creationInfo", "creationDate", "value"),
    ),
    Family.PAYMENT_DISPUTES: FamilyTruth(
        family=Family.PAYMENT_DISPUTES,
        path="payment_disputes",
        records=json_collection("paymentDisputeSummaries"),
        key=lambda record: str(record["paymentDisputeId"]),
        table=EbayPaymentDispute,
        key_column="payment_dispute_id",
        date=iso_field("openDate"),
    ),
    # getOffers of every SKU getInventoryItems lists; the sandbox serves them in one list.
    Family.OFFERS: FamilyTruth(
        family=Family.OFFERS,
        path="offers",
        records=json_collection("offers"),
        key=lambda record: str(record["offerId"]),
        table=EbayOffer,
        key_column="offer_id",
        date=None,
    ),
    # The table's key is (transaction_id, transaction_type) but a truth names one key column:
    # the id alone lines records up with rows while no two types share an id (true of the
    # sandbox: a SALE's id is its order id; refunds, labels and charges have ids of their own).
    Family.TRANSACTIONS: FamilyTruth(
        family=Family.TRANSACTIONS,
        path="transactions",
        records=json_collection("transactions"),
        key=lambda record: str(record["transactionId"]),
        table=EbayTransaction,
        key_column="transaction_id",
        date=iso_field("transactionDate"),
    ),
    Family.FINANCES: FamilyTruth(
        family=Family.FINANCES,
        path="payouts",
        records=json_collection("payouts"),
        key=lambda record: str(record["payoutId"]),
        table=EbayPayout,
        key_column="payout_id",
        date=iso_field("payoutDate"),
    ),
    # Trading (XML): records are converted with the fetcher's own converter.
    Family.MESSAGES: FamilyTruth(
        family=Family.MESSAGES,
        path="messages",
        records=xml_records(MESSAGE_PATH),
        key=lambda record: str(record["MessageID"]),
        table=EbayMessage,
        key_column="message_id",
        date=iso_field("ReceiveDate"),
    ),
    Family.ACTIVE_INVENTORY: FamilyTruth(
        family=Family.ACTIVE_INVENTORY,
        path="active_listings",
        records=xml_records(ACTIVE_ITEM_PATH, active_listing_record),
        key=lambda record: str(record["ItemID"]),
        table=EbayActiveListing,
        key_column="item_id",
        date=None,
    ),
    Family.PURCHASES: FamilyTruth(
        family=Family.PURCHASES,
        path="purchases",
        records=xml_records(WON_TRANSACTION_PATH),
        key=lambda record: str(record["Transaction"]["OrderLineItemID"]),
        table=EbayPurchase,
        key_column="order_line_item_id",
        date=iso_field("Transaction", "CreatedDate"),
    ),
}
