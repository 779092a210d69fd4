"""The application's signing key, asked of the token service once and kept in memory.

Every Finances call is signed with the same key pair, so a fetcher process asks for it on
first use and again only when it nears its expiry (Key Management keys live three years).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from common.ebay.signing import SigningKey

# Ask for a fresh key this long before the cached one expires.
RENEW_BEFORE = timedelta(days=1)


def still_fresh(key: SigningKey, now: datetime) -> bool:
    return key.expires_at is None or key.expires_at - RENEW_BEFORE > now


class SigningKeyCache:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[SigningKey]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._key: SigningKey | None = None
        # Windows fetched at once share one request to the token service.
        self._lock = asyncio.Lock()

    async def get(self) -> SigningKey:
        key = self._key
        if key is not None and still_fresh(key, self._clock()):
            return key
        async with self._lock:
            key = self._key
            if key is None or not still_fresh(key, self._clock()):
                key = self._key = await self._fetch()
            return key
