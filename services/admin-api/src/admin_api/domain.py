"""Pure decisions of the admin API: token health (a worker's status light is
:mod:`common.workers`, shared with ``ebaysync status``; the schedule projection is the
scheduler's own, in :mod:`common.scheduling`).

No I/O and no clock: callers pass ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from common.db.tokens import TokenStatusRow


class TokenHealth(StrEnum):
    HEALTHY = "healthy"
    EXPIRING_SOON = "expiring_soon"
    EXPIRED = "expired"
    ERROR = "error"
    NEEDS_REAUTH = "needs_reauth"


@dataclass(frozen=True)
class TokenVerdict:
    status: TokenHealth
    reason: str


def token_verdict(
    token: TokenStatusRow | None, needs_reauth: bool, now: datetime, soon: timedelta
) -> TokenVerdict:
    """Worst first: the seller must consent again, a refresh failed, consent ends soon, the
    access token lapsed (it is refreshed on next use), or all is well."""
    if token is None:
        return TokenVerdict(TokenHealth.NEEDS_REAUTH, "no tokens stored: connect the account")
    if needs_reauth:
        return TokenVerdict(TokenHealth.NEEDS_REAUTH, "eBay refused the refresh token: reconnect")
    if token.refresh_token_expires_at <= now:
        return TokenVerdict(TokenHealth.NEEDS_REAUTH, "the seller's consent expired: reconnect")
    if token.refresh_error:
        return TokenVerdict(TokenHealth.ERROR, f"last refresh failed: {token.refresh_error}")
    if token.refresh_token_expires_at - now <= soon:
        days = (token.refresh_token_expires_at - now).total_seconds() / 86400
        return TokenVerdict(
            TokenHealth.EXPIRING_SOON, f"consent ends in {days:.1f} days: reconnect soon"
        )
    if token.access_token_expires_at is None or token.access_token_expires_at <= now:
        return TokenVerdict(TokenHealth.EXPIRED, "access token lapsed; refreshed on next use")
    return TokenVerdict(TokenHealth.HEALTHY, "access token valid")
