"""What every eBay REST call shares: auth header, error mapping and JSON decoding."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from common.ebay.errors import (
    EbayAuthError,
    EbayError,
    EbayPayloadError,
    EbayRequestError,
    EbayTransientError,
    request_id_of,
)

# The statuses an "empty" errorId may come with (``empty_when``).
NOTHING_HERE_STATUSES = frozenset({400, 404})


async def get_json(
    http: httpx.AsyncClient,
    url: str,
    *,
    token: SecretStr,
    params: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
    empty_when: Collection[int] = (),
    auth_scheme: str = "Bearer",
) -> dict[str, Any]:
    """GET a JSON document, mapping every failure onto the EbayError tree.

    ``empty_when``: errorIds that mean "nothing here" rather than a wrong request (getOffers'
    25713 for a SKU without offers); such an answer is an empty document. It is accepted as a
    404 or a 400: the sandbox and our observation say 404, eBay's spec lists 25713 under 400
    for other Inventory calls, and neither is confirmed (docs/adr/0010).
    """
    # Post-Order wants the same OAuth user token as "IAF <token>" (Bearer gets a 401).
    request_headers = {
        "Authorization": f"{auth_scheme} {token.get_secret_value()}",
        "Accept": "application/json",
    }
    request_headers.update(headers or {})
    try:
        response = await http.get(url, params=params, headers=request_headers)
    except httpx.TransportError as exc:  # timeouts, refused and dropped connections
        raise EbayTransientError(f"{type(exc).__name__} calling {url}") from exc
    if response.status_code in NOTHING_HERE_STATUSES and _error_ids(response) & set(empty_when):
        return {}
    raise_for_status(response)
    if response.status_code == 204:
        return {}
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise EbayPayloadError(
            f"malformed JSON from {url}",
            status=response.status_code,
            request_id=request_id_of(response.headers),
        ) from exc
    if not isinstance(body, dict):
        raise EbayPayloadError(
            f"expected a JSON object from {url}",
            status=response.status_code,
            request_id=request_id_of(response.headers),
        )
    return body


def raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = f"HTTP {status} from {response.request.url.path}: {_first_error(response)}"
    request_id = request_id_of(response.headers)
    if status == 401:
        raise EbayAuthError(detail, status=status, request_id=request_id)
    if status == 429 or status >= 500:
        raise EbayTransientError(
            detail, status=status, retry_after=_retry_after(response), request_id=request_id
        )
    raise EbayRequestError(detail, status=status, entries=_entries(response), request_id=request_id)


def _entries(response: httpx.Response) -> list[Any]:
    try:
        return error_entries(response.json())
    except ValueError:
        return []


def _first_error(response: httpx.Response) -> str:
    try:
        first = error_entries(response.json())[0]
        return f"errorId {first.get('errorId')}: {first.get('message')}"
    except (ValueError, AttributeError, IndexError, TypeError):
        return response.reason_phrase


def error_entries(body: object) -> list[Any]:
    """The error objects of an eBay error body, whichever envelope it uses: REST
    ``{"errors": [...]}``, Post-Order ``{"error": [...]}``, or that wrapped in ``errorMessage``.
    """
    if not isinstance(body, dict):
        return []
    wrapped = body.get("errorMessage")
    if isinstance(wrapped, dict):
        body = wrapped
    for key in ("errors", "error"):
        entries = body.get(key)
        if isinstance(entries, list) and entries:
            return entries
    return []


def _error_ids(response: httpx.Response) -> set[int]:
    """The errorIds of an eBay error envelope (either shape); none when the body is not one."""
    try:
        errors = error_entries(response.json())
        return {e["errorId"] for e in errors if isinstance(e.get("errorId"), int)}
    except (ValueError, AttributeError, TypeError, KeyError):
        return set()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


__all__ = ["EbayError", "get_json", "raise_for_status"]
