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
from common.db.orders import EbayOrder
from common.families import Family

Record = dict[str, Any]


def json_collection(key: str) -> Callable[[bytes], list[Record]]:
    """Records of a JSON ground truth ``{"<key>": [...]}``."""

    def parse(body: bytes) -> list[Record]:
        records = orjson.loads(body).get(key) or []
        assert isinstance(records, list)
        return records

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
}
