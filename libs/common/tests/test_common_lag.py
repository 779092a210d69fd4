from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common.families import SNAPSHOT_FAMILIES, Family
from common.lag import fresh_to, pair_lag

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CURSOR = NOW - timedelta(minutes=7)
SNAPSHOT_AT = NOW - timedelta(minutes=40)


def test_an_incremental_pair_is_as_fresh_as_its_cursor() -> None:
    assert fresh_to(Family.ORDERS, CURSOR, SNAPSHOT_AT) == CURSOR
    assert pair_lag(Family.ORDERS, CURSOR, SNAPSHOT_AT, NOW) == timedelta(minutes=7)


def test_a_snapshot_pair_is_as_fresh_as_its_last_complete_snapshot() -> None:
    for family in SNAPSHOT_FAMILIES:
        assert pair_lag(family, None, SNAPSHOT_AT, NOW) == timedelta(minutes=40)


def test_a_pair_that_never_synced_has_no_lag() -> None:
    assert pair_lag(Family.ORDERS, None, SNAPSHOT_AT, NOW) is None
    assert pair_lag(Family.OFFERS, CURSOR, None, NOW) is None
