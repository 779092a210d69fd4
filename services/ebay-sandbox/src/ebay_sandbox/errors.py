"""eBay error bodies (REST ``ErrorDetailV3`` envelope and OAuth token-endpoint errors)."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

JsonDict = dict[str, Any]

INVALID_GRANT = (
    "the provided authorization refresh token is invalid or was issued to another client"
)
INVALID_SCOPE = (
    "The requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client"
)
INVALID_CLIENT = "client authentication failed"
UNSUPPORTED_GRANT = "grant type in request is not supported by the authorization server"
INVALID_REQUEST = "request is missing a required parameter or malformed."


class EbayApiError(Exception):
    """Raised by REST handlers; rendered as ``{"errors": [...]}`` with ``status``."""

    def __init__(
        self, status: int, errors: list[JsonDict], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(errors[0].get("message", "error") if errors else "error")
        self.status = status
        self.errors = errors
        self.headers = headers or {}


class PostOrderError(Exception):
    """Raised by Post-Order handlers; rendered as ``{"error": [...]}`` (fact sheet section 3)."""

    def __init__(self, status: int, error_id: int, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.parameter = parameter

    def body(self) -> JsonDict:
        """The Post-Order error envelope."""
        category = "REQUEST" if self.status < 500 else "APPLICATION"
        return {
            "error": [
                {
                    "errorId": self.error_id,
                    "domain": "resolutionsErrorDomain",
                    "severity": "ERROR",
                    "category": category,
                    "message": self.message,
                    "parameter": [{"name": "input", "value": self.parameter}]
                    if self.parameter
                    else [],
                    "inputRefIds": [],
                    "httpStatusCode": self.status,
                }
            ]
        }


class OAuthError(Exception):
    """Raised by OAuth handlers; rendered as ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def error_entry(
    error_id: int,
    domain: str,
    category: str,
    message: str,
    long_message: str | None = None,
    parameters: dict[str, str] | None = None,
) -> JsonDict:
    """One ``ErrorDetailV3`` object."""
    entry: JsonDict = {"errorId": error_id, "domain": domain, "category": category}
    entry["message"] = message
    if long_message is not None:
        entry["longMessage"] = long_message
    if parameters:
        entry["parameters"] = [{"name": k, "value": v} for k, v in parameters.items()]
    return entry


def invalid_access_token() -> EbayApiError:
    """401 exactly as logged from live eBay (rest/errors_observed.json)."""
    return EbayApiError(
        401,
        [
            error_entry(
                1001,
                "OAuth",
                "REQUEST",
                "Invalid access token",
                "Invalid access token. Check the value of the Authorization HTTP request header.",
            )
        ],
    )


def insufficient_permissions() -> EbayApiError:
    """403 when the token lacks every scope the method accepts."""
    return EbayApiError(
        403,
        [
            error_entry(
                1100,
                "ACCESS",
                "REQUEST",
                "Access denied",
                "Insufficient permissions to fulfill the request.",
            )
        ],
    )


def too_many_requests(retry_after: int | None) -> EbayApiError:
    """429 with the body copied from a live eBay response; Retry-After only if asked for."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    entry = error_entry(
        2001,
        "ACCESS",
        "REQUEST",
        "Too many requests.",
        "The request limit has been reached for the resource.",
    )
    return EbayApiError(429, [entry], headers)


def system_error(error_id: int, domain: str, status: int = 500) -> EbayApiError:
    """eBay's generic internal-error answer of one API (its ``x-response-codes``)."""
    message = (
        "There was a problem with an eBay internal system or process. "
        "Contact eBay developer support for assistance."
    )
    if domain == "API_FULFILLMENT" and error_id == 30500:
        message = "System error"
    return EbayApiError(status, [error_entry(error_id, domain, "APPLICATION", message)])


async def ebay_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for :class:`EbayApiError`."""
    assert isinstance(exc, EbayApiError)
    return JSONResponse({"errors": exc.errors}, status_code=exc.status, headers=exc.headers)


async def oauth_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for :class:`OAuthError`."""
    assert isinstance(exc, OAuthError)
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status, headers={"Cache-Control": "no-store"})


async def post_order_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for :class:`PostOrderError`."""
    assert isinstance(exc, PostOrderError)
    return JSONResponse(exc.body(), status_code=exc.status)
