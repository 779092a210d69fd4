"""The exceptions eBay clients raise, and nothing else::

EbayError
├── EbayTransientError      timeouts, dropped connections, 5xx, 429: try again later
│   └── EbayQuotaError      a daily quota is spent: try again after it resets
├── EbayAuthError           401: the access token is expired or revoked
├── EbayRequestError        other 4xx: our request is wrong; retrying cannot help
└── EbayPayloadError        eBay answered 2xx with a body we cannot read
"""

from __future__ import annotations


class EbayError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EbayTransientError(EbayError):
    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class EbayAuthError(EbayError):
    pass


class EbayRequestError(EbayError):
    pass


class EbayPayloadError(EbayError):
    pass


class EbayQuotaError(EbayTransientError):
    """A daily call quota is spent (REST 429 ``2001`` on a quota, Trading ``518``).

    ``retry_after`` is the time until the quota resets: nothing this account does for that API
    succeeds before then, so its window waits instead of retrying.
    """
