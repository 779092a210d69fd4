"""``POST /ws/api.dll``: GetMyeBaySelling, GetItem, GetMyMessages, GetMyeBayBuying, GetUser and the
Platform Notification preferences (Set/GetNotificationPreferences).

Errors come back with HTTP 200 and ``Ack=Failure`` (transport faults aside).
"""

from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from ebay_sandbox.calls import Call
from ebay_sandbox.faults import ApiStyle, Endpoint
from ebay_sandbox.gateway import trading_call
from ebay_sandbox.notifications.preferences import get_preferences, set_preferences
from ebay_sandbox.state import SandboxDep
from ebay_sandbox.trading.buying import won_list
from ebay_sandbox.trading.items import get_item
from ebay_sandbox.trading.messages import my_messages
from ebay_sandbox.trading.request import TradingRequest, parse_request
from ebay_sandbox.trading.selling import active_list
from ebay_sandbox.trading.user import user
from ebay_sandbox.trading.xml import envelope

router = APIRouter()
Handler = Callable[[Call, TradingRequest], str]
CALLS: dict[str, tuple[Endpoint, Handler]] = {
    "GetMyeBaySelling": (
        Endpoint(
            "GetMyeBaySelling",
            frozenset({"active_inventory", "active_listings"}),
            ApiStyle.TRADING,
            paged=True,
        ),
        active_list,
    ),
    "GetItem": (
        Endpoint("GetItem", frozenset({"active_inventory", "active_listings"}), ApiStyle.TRADING),
        get_item,
    ),
    "GetMyMessages": (
        Endpoint("GetMyMessages", frozenset({"messages"}), ApiStyle.TRADING, paged=True),
        my_messages,
    ),
    "GetMyeBayBuying": (
        Endpoint("GetMyeBayBuying", frozenset({"purchases"}), ApiStyle.TRADING, paged=True),
        won_list,
    ),
    "GetUser": (Endpoint("GetUser", frozenset({"identity"}), ApiStyle.TRADING), user),
    "SetNotificationPreferences": (
        Endpoint("SetNotificationPreferences", frozenset({"notifications"}), ApiStyle.TRADING),
        set_preferences,
    ),
    "GetNotificationPreferences": (
        Endpoint("GetNotificationPreferences", frozenset({"notifications"}), ApiStyle.TRADING),
        get_preferences,
    ),
}


@router.post("/ws/api.dll")
async def api_dll(request: Request, sandbox: SandboxDep) -> Response:
    """Dispatch on ``X-EBAY-API-CALL-NAME``."""
    request.state.endpoint = f"POST /ws/api.dll {request.headers.get('x-ebay-api-call-name', '')}"
    parsed = await parse_request(request)
    endpoint, handler = CALLS[parsed.call]
    auth_n_auth = parsed.find("RequesterCredentials/eBayAuthToken") is not None
    call = await trading_call(sandbox, request, endpoint, auth_n_auth)
    request.state.endpoint = f"POST /ws/api.dll {parsed.call}"
    payload = handler(call, parsed)
    return call.respond(envelope(parsed.call, call.now_ms, payload))
