"""The window settings: which families are planned, and with which cadence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.families import IMPLEMENTED_FAMILIES, Family
from common.settings import WindowSettings


def test_every_implemented_family_is_planned_by_default() -> None:
    assert set(WindowSettings().policies()) == IMPLEMENTED_FAMILIES


def test_the_families_setting_limits_what_is_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_FAMILIES", '["orders", "offers"]')
    assert set(WindowSettings().policies()) == {Family.ORDERS, Family.OFFERS}


def test_snapshot_families_have_their_own_cadence() -> None:
    settings = WindowSettings(cadence_seconds=300, snapshot_cadence_seconds=3600)
    assert settings.policy(Family.OFFERS).cadence == timedelta(hours=1)
    assert settings.policy(Family.ORDERS).cadence == timedelta(minutes=5)
