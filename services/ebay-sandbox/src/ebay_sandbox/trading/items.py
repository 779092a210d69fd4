"""GetItem: one listing of the caller's by ``ItemID``, live or ended.

The contracts hold no GetItem sample; what is known of it is that the Platform Notifications
for listings carry "the same data as" ``GetItemResponse`` (notifications fact sheet §7.2,
§7.3). The ``<Item>`` is the ActiveList's (the fields the mirror keeps, so a listing read
either way is the same record) plus ``SellingStatus/ListingStatus`` (``Active`` while live,
``Completed`` once ended, as the notifications' samples say). An id that is not one of the
caller's listings answers error 17, the code Trading SDKs name for an item that "cannot be
accessed" (UNCONFIRMED: no eBay sample in the contracts).
"""

from ebay_sandbox.calls import Call
from ebay_sandbox.catalog import MARKETS
from ebay_sandbox.trading.errors import TradingError, invalid_input
from ebay_sandbox.trading.request import TradingRequest
from ebay_sandbox.trading.selling import item_xml


def unknown_item(item_id: str) -> TradingError:
    """Error 17: not a listing of the caller's (or not started yet)."""
    return TradingError(
        17,
        "This item cannot be accessed because the listing has been deleted or you are not the "
        "seller.",
        f"Item {item_id} cannot be accessed because the listing has been deleted, or you are "
        "not the seller.",
        params=(item_id,),
    )


def get_item(call: Call, request: TradingRequest) -> str:
    """The ``<Item>`` named by ``ItemID``."""
    item_id = request.text("ItemID")
    if not item_id:
        raise invalid_input("ItemID")
    book, now_ms = call.world.book, call.now_ms
    listing = book.by_item_id(item_id)
    if listing is None or listing.start_ms > now_ms:
        raise unknown_item(item_id)
    # Live exactly when the ActiveList holds it.
    status = "Active" if book.active(listing.slot, now_ms) == listing else "Completed"
    currency = MARKETS[call.seller.marketplace_id].currency
    return item_xml(listing, now_ms, currency, listing_status=status)
