"""Which dates each phase of a Finances window reads: pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from common.families import Family
from common.messages import SyncWindow, Trigger
from fetcher.sources.base import PageRequest
from fetcher.sources.finances import TRANSACTIONS_REFRESH, phase_range
from fetcher.tokens import AccountToken

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def request(phase: str, start: datetime, end: datetime) -> PageRequest:
    window = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=1,
        family=Family.TRANSACTIONS,
        window_from=start,
        window_to=end,
        trigger=Trigger.SCHEDULE,
        issued_at=NOW,
    )
    return PageRequest(window, AccountToken(SecretStr("t"), "EBAY_US", 0), phase, 0)


def test_the_window_phase_reads_the_window() -> None:
    start, end = NOW - timedelta(days=1), NOW
    assert phase_range(
        request("window", start, end), Family.TRANSACTIONS, TRANSACTIONS_REFRESH
    ) == (
        start,
        end,
    )


def test_the_recent_phase_rereads_the_horizon_before_the_window() -> None:
    start, end = NOW - timedelta(hours=1), NOW
    assert phase_range(
        request("recent", start, end), Family.TRANSACTIONS, TRANSACTIONS_REFRESH
    ) == (
        end - TRANSACTIONS_REFRESH,
        start,
    )


def test_a_window_longer_than_the_horizon_has_nothing_to_reread() -> None:
    start, end = NOW - timedelta(days=40), NOW
    assert (
        phase_range(request("recent", start, end), Family.TRANSACTIONS, TRANSACTIONS_REFRESH)
        is None
    )
