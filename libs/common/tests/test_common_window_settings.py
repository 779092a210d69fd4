"""The window settings: which families are planned, and with which cadence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.families import Family
from common.settings import WindowSettings


def test_every_implemented_family_is_planned_by_default() -> None:
    assert set(WindowSettings().policies()) == set(Family)


def test_the_families_setting_limits_what_is_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_FAMILIES", '["orders", "offers"]')
    assert set(WindowSettings().policies()) == {Family.ORDERS, Family.OFFERS}


def test_snapshot_families_have_their_own_cadence() -> None:
    settings = WindowSettings(cadence_seconds=300, snapshot_cadence_seconds=3600)
    assert settings.policy(Family.OFFERS).cadence == timedelta(hours=1)
    assert settings.policy(Family.ORDERS).cadence == timedelta(minutes=5)


def test_a_family_can_have_its_own_overlap_backfill_and_cadence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "SCHEDULER_FAMILY_OVERRIDES",
        '{"messages": {"overlap_seconds": 3600}, "orders": {"initial_backfill_days": 30,'
        ' "cadence_seconds": 60}}',
    )
    settings = WindowSettings(overlap_seconds=600, initial_backfill_days=90, cadence_seconds=300)
    messages, orders = settings.policy(Family.MESSAGES), settings.policy(Family.ORDERS)
    assert (messages.overlap, messages.initial_backfill) == (timedelta(hours=1), timedelta(90))
    assert (orders.overlap, orders.initial_backfill) == (timedelta(minutes=10), timedelta(30))
    assert (orders.cadence, messages.cadence) == (timedelta(minutes=1), timedelta(minutes=5))
    # Families not named keep the common values, which are the defaults.
    assert settings.policy(Family.CASES) == WindowSettings(
        overlap_seconds=600, initial_backfill_days=90, cadence_seconds=300
    ).policy(Family.CASES)


@pytest.mark.parametrize(
    "value",
    [
        '{"not_a_family": {"overlap_seconds": 1}}',
        '{"orders": {"overlap": 1}}',
        '{"orders": {"initial_backfill_days": 0}}',
        '{"orders": {"overlap_seconds": -5}}',
    ],
)
def test_a_bad_family_override_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SCHEDULER_FAMILY_OVERRIDES", value)
    with pytest.raises(ValueError, match="validation error"):
        WindowSettings()
