"""The circuit breaker's pure decision: failures in a row → how long a worker pauses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.breaker import BreakerSettings, pause_for

SETTINGS = BreakerSettings(threshold=3, base_seconds=60, cap_seconds=3600)


@pytest.mark.parametrize("failures", [0, 1, 2])
def test_failures_below_the_threshold_pause_nothing(failures: int) -> None:
    assert pause_for(failures, SETTINGS) is None


def test_the_pause_starts_at_the_base_and_doubles_with_each_further_failure() -> None:
    pauses = [pause_for(n, SETTINGS) for n in range(3, 8)]
    assert pauses == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]


def test_the_pause_never_exceeds_the_cap_however_long_the_streak() -> None:
    assert pause_for(9, SETTINGS) == timedelta(hours=1)
    assert pause_for(10_000, SETTINGS) == timedelta(hours=1)


def test_a_threshold_of_one_pauses_after_the_first_failure() -> None:
    assert pause_for(1, BreakerSettings(threshold=1, base_seconds=5)) == timedelta(seconds=5)
