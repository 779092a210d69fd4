"""The time a service plans with: the machine's, or a simulated eBay's.

Against the eBay sandbox, whose clock can be frozen or moved forward, the scheduler must plan
windows in the sandbox's time or it would ask for data the sandbox has not "lived" yet (or skip
what it has). :class:`FollowingClock` keeps an offset to a remote clock, refreshed once per tick,
so reading the time stays a cheap synchronous call.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import httpx

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class FollowingClock:
    """Real UTC time shifted to agree with a clock served at ``url`` (``{"now": iso}``)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._url = url
        self._http = httpx.AsyncClient(timeout=timeout)
        self._offset = timedelta()
        self._synced: float | None = None  # time.monotonic() of the last good read

    async def aclose(self) -> None:
        await self._http.aclose()

    def now(self) -> datetime:
        return utc_now() + self._offset

    async def sync(self) -> None:
        """Re-read the remote clock; on failure keep the last known offset."""
        try:
            response = await self._http.get(self._url)
            response.raise_for_status()
            remote = datetime.fromisoformat(response.json()["now"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("could not read the clock at %s: %s", self._url, exc)
            return
        self._offset = remote - utc_now()
        self._synced = time.monotonic()

    async def fresh(self, within: float) -> datetime:
        """The time, re-reading the remote clock first when it was last read more than
        ``within`` seconds ago (for callers with no tick of their own)."""
        if self._synced is None or time.monotonic() - self._synced > within:
            await self.sync()
        return self.now()
