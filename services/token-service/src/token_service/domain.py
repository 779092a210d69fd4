"""Pure decisions of the token service."""

from __future__ import annotations

from datetime import datetime, timedelta


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
