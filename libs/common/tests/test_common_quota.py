"""When eBay's daily quotas reset: midnight US/Pacific, in real elapsed time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.ebay.quota import seconds_until_quota_reset

HOUR = 3600.0


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 07:00 UTC in winter is 23:00 PST: one hour to go.
        (datetime(2026, 1, 15, 7, 0, tzinfo=UTC), HOUR),
        # 08:00 UTC in winter is midnight PST: a whole day to go.
        (datetime(2026, 1, 15, 8, 0, tzinfo=UTC), 24 * HOUR),
        # 06:30 UTC in summer is 23:30 PDT.
        (datetime(2026, 7, 1, 6, 30, tzinfo=UTC), HOUR / 2),
        # 01:00 PST on the day the clocks go forward (8 March 2026, a 23-hour day): 22 hours.
        (datetime(2026, 3, 8, 9, 0, tzinfo=UTC), 22 * HOUR),
        # Just after midnight PDT on the day the clocks go back (1 November 2026): 25 hours.
        (datetime(2026, 11, 1, 7, 0, tzinfo=UTC), 25 * HOUR),
    ],
)
def test_seconds_until_the_quota_resets(now: datetime, expected: float) -> None:
    assert seconds_until_quota_reset(now) == expected


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        seconds_until_quota_reset(datetime(2026, 1, 15, 7, 0))  # noqa: DTZ001
