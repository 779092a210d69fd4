"""The exceptions eBay clients raise, and nothing else::

EbayError
├── EbayTransientError      timeouts, dropped connections, 5xx, 429: try again later
│   └── EbayQuotaError      a daily quota is spent: try again after it resets
├── EbayAuthError           401: the access token is expired or revoked
├── EbayRequestError        other 4xx: our request is wrong; retrying cannot help
└── EbayPayloadError        eBay answered 2xx with a body we cannot read
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


class EbayError(Exception):
    """``request_id``: eBay's id of the failed call (``X-EBAY-C-REQUEST-ID``, else ``rlogid``,
    else Trading's ``CorrelationID``), which eBay support asks for; it ends the message, so it
    reaches the run's error, the dead letter's reason and the span's exception event."""

    def __init__(
        self, message: str, *, status: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(f"{message} (eBay request id {request_id})" if request_id else message)
        self.status = status
        self.request_id = request_id


class EbayTransientError(EbayError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.retry_after = retry_after


class EbayAuthError(EbayError):
    pass


class EbayRequestError(EbayError):
    """``entries``: the error objects of eBay's body, to tell which parameter it refused."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        entries: Sequence[Any] = (),
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.entries = list(entries)

    def names(self, *parameters: str) -> bool:
        """Whether eBay's error names any of ``parameters`` (in its message or parameter list).

        eBay names a refused parameter in ``parameters[]`` (REST) or ``parameter[]`` (Post-Order,
        often as ``{"name": "input", "value": "limit=500"}``) and in the message text.
        """
        text = " ".join(_texts(self.entries))
        return any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in parameters)


class EbayPayloadError(EbayError):
    pass


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """eBay's id of a call from its response headers (REST and Trading alike)."""
    return headers.get("x-ebay-c-request-id") or headers.get("rlogid") or None


class EbayQuotaError(EbayTransientError):
    """A daily call quota is spent (REST 429 ``2001`` on a quota, Trading ``518``).

    ``retry_after`` is the time until the quota resets: nothing this account does for that API
    succeeds before then, so its window waits instead of retrying.
    """


def _texts(node: object) -> Iterator[str]:
    """Every string inside an error body (messages, parameter names and values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)
