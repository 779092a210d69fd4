"""Where each family's source of truth is, and how its records line up with the mirror.

``ebaysync verify`` reads a seller's records from the sandbox's ground truth
(``GET /sandbox/sellers/{username}/{path}``), parses them into exactly the raw records the
fetcher publishes (so a record and its mirrored ``payload`` compare equal), and matches them to
the family table's rows by natural key.

To add a family: one :func:`truth` in :data:`TRUTHS` (docs/adr/0006-families.md).
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
from common.families import Family, spec

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


def _at(record: Record, path: tuple[str, ...]) -> Any:
    value: Any = record
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value


def iso_field(*path: str) -> Callable[[Record], datetime | None]:
    """The ISO-8601 timestamp at ``path`` in a record (eBay's ``…Z`` form included)."""

    def read(record: Record) -> datetime | None:
        value = _at(record, path)
        if not isinstance(value, str):
            return None
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    return read


def id_field(*path: str) -> Callable[[Record], str]:
    """The id at ``path`` in a record, as text (Post-Order ids may be JSON numbers)."""

    def read(record: Record) -> str:
        value = _at(record, path)
        if value is None:
            raise KeyError("/".join(path))
        return str(value)

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


def truth(
    family: Family,
    table: type[MirroredRow],
    records: Callable[[bytes], list[Record]],
    key: Callable[[Record], str],
    date: Callable[[Record], datetime | None] | None,
    path: str | None = None,
) -> FamilyTruth:
    """A family's truth; its key column is the family's first key column (``FamilySpec.key``),
    its sandbox path the family's name unless told."""
    column = spec(family).key[0]
    return FamilyTruth(family, path or family.value, records, key, table, column, date)


_TRUTHS = (
    truth(
        Family.ORDERS,
        EbayOrder,
        json_collection("orders"),
        id_field("orderId"),
        iso_field("lastModifiedDate"),
    ),
    # Post-Order searches filter on the creation date.
    truth(
        Family.CASES,
        EbayCase,
        json_collection("members"),
        id_field("caseId"),
        iso_field("creationDate", "value"),
    ),
    truth(
        Family.INQUIRIES,
        EbayInquiry,
        json_collection("members"),
        id_field("inquiryId"),
        iso_field("creationDate", "value"),
    ),
    truth(
        Family.RETURNS,
        EbayReturn,
        json_collection("members"),
        id_field("returnId"),
        iso_field("creationInfo", "creationDate", "value"),
    ),
    truth(
        Family.PAYMENT_DISPUTES,
        EbayPaymentDispute,
        json_collection("paymentDisputeSummaries"),
        id_field("paymentDisputeId"),
        iso_field("openDate"),
    ),
    # getOffers of every SKU getInventoryItems lists; the sandbox serves them in one list.
    truth(Family.OFFERS, EbayOffer, json_collection("offers"), id_field("offerId"), None),
    # The table's key is (transaction_id, transaction_type) but a truth names one key column:
    # the id alone lines records up with rows while no two types share an id (true of the
    # sandbox: a SALE's id is its order id; refunds, labels and charges have ids of their own).
    truth(
        Family.TRANSACTIONS,
        EbayTransaction,
        json_collection("transactions"),
        id_field("transactionId"),
        iso_field("transactionDate"),
    ),
    truth(
        Family.FINANCES,
        EbayPayout,
        json_collection("payouts"),
        id_field("payoutId"),
        iso_field("payoutDate"),
        path="payouts",
    ),
    # Trading (XML): records are converted with the fetcher's own converter.
    truth(
        Family.MESSAGES,
        EbayMessage,
        xml_records(MESSAGE_PATH),
        id_field("MessageID"),
        iso_field("ReceiveDate"),
    ),
    truth(
        Family.ACTIVE_INVENTORY,
        EbayActiveListing,
        xml_records(ACTIVE_ITEM_PATH, active_listing_record),
        id_field("ItemID"),
        None,
        path="active_listings",
    ),
    truth(
        Family.PURCHASES,
        EbayPurchase,
        xml_records(WON_TRANSACTION_PATH),
        id_field("Transaction", "OrderLineItemID"),
        iso_field("Transaction", "CreatedDate"),
    ),
)
TRUTHS: dict[Family, FamilyTruth] = {t.family: t for t in _TRUTHS}
