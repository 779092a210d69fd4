"""Trading Platform Notifications for one seller (contracts notifications §7.1): the events of
``common.push.TRADING_EVENTS`` enabled with SetNotificationPreferences, delivered to the
ingress's Trading endpoint, and checked with GetNotificationPreferences."""

from __future__ import annotations

from pydantic import SecretStr

from admin_api.push_plan import missing_events, trading_events
from admin_api.routes.push import TRADING_PATH
from common.ebay.trading import TradingClient
from common.ebay.xml import RequestValue

DELIVERY_URL_NAME = "ebaysync"
PREFERENCE_PATH = ("UserDeliveryPreferenceArray", "NotificationEnable")


def preferences(public_url: str, switch: str) -> dict[str, RequestValue]:
    """SetNotificationPreferences' fields: every event ``Enable`` (with the delivery URL, bound
    to the seller's token) or ``Disable``."""
    url = public_url.rstrip("/") + TRADING_PATH
    fields: dict[str, RequestValue] = {}
    if switch == "Enable":
        fields["ApplicationDeliveryPreferences"] = {
            "ApplicationURL": url,
            "ApplicationEnable": "Enable",
            "DeliveryURLDetails": {
                "DeliveryURLName": DELIVERY_URL_NAME,
                "DeliveryURL": url,
                "Status": "Enable",
            },
        }
        fields["DeliveryURLName"] = DELIVERY_URL_NAME
    events = [{"EventType": e, "EventEnable": switch} for e in trading_events()]
    fields["UserDeliveryPreferenceArray"] = {"NotificationEnable": events}
    return fields


async def enable_events(
    trading: TradingClient, token: SecretStr, site_id: int, public_url: str
) -> bool:
    """Enable the seller's events where eBay does not report them all enabled; whether a
    SetNotificationPreferences was needed."""
    found = await trading.call(
        "GetNotificationPreferences", token, site_id, {"PreferenceLevel": "User"}, PREFERENCE_PATH
    )
    enabled = {str(r.get("EventType")): str(r.get("EventEnable")) for r in found.records}
    if not missing_events(enabled):
        return False
    fields = preferences(public_url, "Enable")
    await trading.call("SetNotificationPreferences", token, site_id, fields, ())
    return True


async def disable_events(
    trading: TradingClient, token: SecretStr, site_id: int, public_url: str
) -> None:
    fields = preferences(public_url, "Disable")
    await trading.call("SetNotificationPreferences", token, site_id, fields, ())
