"""Trading errors: HTTP 200 with ``Ack=Failure`` and eBay's error codes (fact sheet section 2)."""

import re

from fastapi import Request
from fastapi.responses import Response

from ebay_sandbox.trading.xml import MEDIA_TYPE, envelope, error_block

_CALL_NAME = re.compile(r"^[A-Za-z]{2,64}$")


class TradingError(Exception):
    """Rendered as a ``<{Call}Response>`` with ``Ack=Failure``."""

    def __init__(
        self,
        code: int,
        short: str,
        long: str,
        *,
        params: tuple[str, ...] = (),
        classification: str = "RequestError",
        http_status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {short}")
        self.code = code
        self.short = short
        self.long = long
        self.params = params
        self.classification = classification
        self.http_status = http_status
        self.headers = headers or {}


def invalid_input(tag: str) -> TradingError:
    """Error 37: a request field is missing or out of range."""
    return TradingError(
        37,
        "Input data is invalid.",
        f"Input data for tag <{tag}> is invalid or missing. Please check API documentation.",
        params=(tag,),
    )


def expired_token() -> TradingError:
    """21917053, verbatim from a live response (trading/error_21917053_expired_iaf_token)."""
    return TradingError(21917053, "Expired IAF token.", "IAF token supplied is expired. ")


def invalid_token() -> TradingError:
    """931 (KB 630)."""
    return TradingError(
        931,
        "Auth token is invalid.",
        "Validation of the authentication token in API request failed.",
    )


def revoked_token() -> TradingError:
    """932: hard-expired or revoked (KB 1052)."""
    return TradingError(
        932,
        "Auth token is hard expired.",
        "Auth token is hard expired, User needs to generate a new token for this application.",
    )


def missing_token() -> TradingError:
    """930: no IAF token header and no RequesterCredentials."""
    return TradingError(930, "No token.", "No eBayAuthToken or IAF token was supplied.")


def quota_exceeded() -> TradingError:
    """518: the daily call quota is used up (HTTP 200)."""
    return TradingError(
        518,
        "Your application has exceeded usage limit on this call.",
        "Your application has exceeded usage limit on this call, please make call to "
        "GetAPIAccessRules to check your call usage.",
    )


def call_name(request: Request) -> str:
    """The call named by the request header (for the response root element)."""
    name = request.headers.get("x-ebay-api-call-name", "")
    return name if _CALL_NAME.match(name) else "GeteBayOfficialTime"


async def trading_error_handler(request: Request, exc: Exception) -> Response:
    """Exception handler for :class:`TradingError`."""
    assert isinstance(exc, TradingError)
    errors = error_block(
        exc.code, exc.short, exc.long, params=exc.params, classification=exc.classification
    )
    now_ms = request.app.state.sandbox.clock.now_ms()
    # A failed call names itself for eBay support: the request id the middleware set.
    correlation_id = getattr(request.state, "request_id", None)
    body = envelope(
        call_name(request), now_ms, "", ack="Failure", errors=errors, correlation_id=correlation_id
    )
    return Response(body, status_code=exc.http_status, media_type=MEDIA_TYPE, headers=exc.headers)
