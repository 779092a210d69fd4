"""GetUser: the caller's own account."""

from ebay_sandbox.calls import Call
from ebay_sandbox.clock import DAY
from ebay_sandbox.ids import base62
from ebay_sandbox.trading.request import TradingRequest
from ebay_sandbox.trading.xml import el, node, time_el

SITE_NAMES = {"EBAY_US": "US", "EBAY_GB": "UK", "EBAY_DE": "Germany"}
_STARS = (
    (100_000, "SilverShooting"),
    (10_000, "Red"),
    (5_000, "Green"),
    (1_000, "Turquoise"),
    (500, "Purple"),
    (100, "Blue"),
    (50, "Yellow"),
    (10, "None"),
)


def feedback_score(call: Call) -> int:
    """Grows with time: about one feedback per ten orders a day of history."""
    seller = call.seller
    days = max(0, (call.now_ms - seller.registration_ms) // DAY)
    return int(days * seller.profile.orders_per_day / 10) + 5


def user(call: Call, request: TradingRequest) -> str:
    """The ``<User>`` element."""
    seller = call.seller
    score = feedback_score(call)
    star = next((name for floor, name in _STARS if score >= floor), "None")
    parts = [
        el("AboutMePage", False),
        el("EIASToken", base62(f"eias/{seller.user_id}", 40) + "=="),
        el("Email", "Invalid Request"),
        el("FeedbackScore", score),
        el("PositiveFeedbackPercent", "99.6"),
        el("FeedbackPrivate", False),
        el("FeedbackRatingStar", star),
        el("IDVerified", False),
        el("eBayGoodStanding", True),
        el("NewUser", False),
        time_el("RegistrationDate", seller.registration_ms),
        el("Site", SITE_NAMES.get(seller.marketplace_id, "US")),
        el("Status", "Confirmed"),
        el("UserID", seller.username),
        el("UserIDChanged", False),
        el("VATStatus", "VATTax" if seller.marketplace_id != "EBAY_US" else "NoVATTax"),
        el("BusinessRole", "FullMarketPlaceParticipant"),
        el("EnterpriseSeller", False),
    ]
    return node("User", parts)
