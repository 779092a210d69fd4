"""Trading ``GetItem``: one listing by ``ItemID``, the cheapest call that re-reads a listing a
Platform Notification named (ItemListed, ItemRevised, ItemClosed, …; docs/adr/0018).

Its ``<Item>`` carries ``SellingStatus/ListingStatus``, which the ActiveList's does not: the
record ebaysync stores is the ActiveList's shape
(:func:`common.ebay.trading.active_listing_record`), so a listing read either way is the same
row, and the status only says whether it has ended.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from common.ebay.errors import EbayRequestError
from common.ebay.trading import TradingClient, active_listing_record
from common.ebay.xml import Record

ITEM_PATH = ("Item",)
# "This item cannot be accessed" (deleted, or not the caller's): nothing to re-read.
UNKNOWN_ITEM_CODE = "17"
LIVE_STATUS = "Active"


@dataclass(frozen=True)
class ListedItem:
    """A listing as the ActiveList has it, and whether eBay reports it ended."""

    record: Record
    ended: bool


def listed_item(item: Record) -> ListedItem:
    """A GetItem ``Item`` as its ActiveList record: ``ListingStatus`` moved out, read as ended
    unless ``Active`` (Completed, Ended, …: ListingStatusCodeType)."""
    selling = item.get("SellingStatus")
    status: object = None
    record = dict(item)
    if isinstance(selling, dict):
        status = selling.get("ListingStatus")
        record["SellingStatus"] = {k: v for k, v in selling.items() if k != "ListingStatus"}
    return ListedItem(active_listing_record(record), ended=status != LIVE_STATUS)


async def get_item(
    client: TradingClient, token: SecretStr, site_id: int, item_id: str
) -> ListedItem | None:
    """GetItem of ``item_id``; None when eBay answers that the item cannot be accessed."""
    try:
        response = await client.call("GetItem", token, site_id, {"ItemID": item_id}, ITEM_PATH)
    except EbayRequestError as exc:
        codes = {str(e.get("ErrorCode", "")).strip() for e in exc.entries if isinstance(e, dict)}
        if UNKNOWN_ITEM_CODE in codes:
            return None
        raise
    return listed_item(response.records[0]) if response.records else None
