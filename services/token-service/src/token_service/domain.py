"""Pure decisions of the token service."""

from __future__ import annotations

from datetime import datetime, timedelta

# A seller whose consent ends soon is named in the log at most this often.
CONSENT_WARNING_EVERY = timedelta(days=1)


def needs_refresh(
    expires_at: datetime | None, now: datetime, refresh_ahead: timedelta, *, forced: bool
) -> bool:
    """Whether to refresh before answering: forced, never fetched, or expiring soon."""
    return forced or expires_at is None or expires_at - refresh_ahead <= now


def refresh_reason(expires_at: datetime | None, now: datetime, *, forced: bool) -> str:
    if forced:
        return "forced"
    if expires_at is None or expires_at <= now:
        return "expired"
    return "ahead"


def already_replaced(current_fingerprint: str | None, rejected_fingerprint: str | None) -> bool:
    """Whether the token a caller saw rejected is no longer the stored one.

    Then someone (another fetcher's 401, a sweep, another replica) refreshed it meanwhile and
    the stored token is newer: refreshing again would only add a call to eBay per fetcher.
    """
    return (
        rejected_fingerprint is not None
        and current_fingerprint is not None
        and current_fingerprint != rejected_fingerprint
    )


def sweep_horizon(refresh_ahead: timedelta, sweep_interval: timedelta) -> timedelta:
    """How far ahead a sweep refreshes: everything that would enter the callers' refresh-ahead
    margin before the next sweep, so callers rarely wait on a refresh themselves."""
    return refresh_ahead + sweep_interval


def consent_ending_message(account_id: int, expires_at: datetime, now: datetime) -> str:
    if expires_at <= now:
        return (
            f"account {account_id}: the seller's consent (refresh token) expired at "
            f"{expires_at:%Y-%m-%d %H:%M} UTC: the seller must reconnect"
        )
    days = (expires_at - now).total_seconds() / 86400
    return (
        f"account {account_id}: the seller's consent (refresh token) expires in {days:.1f} days "
        f"({expires_at:%Y-%m-%d %H:%M} UTC): the seller must reconnect before then"
    )
