"""Window planning (DESIGN §3.4): pure, no fixtures."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from common.db.sync import PairState
from common.families import Family
from common.messages import Trigger
from scheduler.domain import Window, WindowPolicy, plan, plan_pair, plan_window

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = WindowPolicy(
    overlap=timedelta(minutes=10),
    initial_backfill=timedelta(days=90),
    lookback_limit=timedelta(days=730),
    max_window=timedelta(days=7),
    settle_lag=timedelta(minutes=2),
    cadence=timedelta(minutes=5),
)


def pair(**overrides: object) -> PairState:
    values: dict[str, object] = {
        "account_id": 1,
        "family": Family.ORDERS,
        "enabled": True,
        "cursor": None,
        "paused_until": None,
        "last_success_at": None,
        "in_flight": False,
    }
    values.update(overrides)
    return PairState(**values)  # type: ignore[arg-type]


class TestPlanWindow:
    def test_without_cursor_starts_at_the_initial_backfill_and_is_capped_by_max_window(
        self,
    ) -> None:
        window = plan_window(None, NOW, POLICY)
        assert window == Window(NOW - timedelta(days=90), NOW - timedelta(days=83))

    def test_with_cursor_starts_one_overlap_before_it_and_ends_at_the_settle_lag(self) -> None:
        cursor = NOW - timedelta(hours=1)
        window = plan_window(cursor, NOW, POLICY)
        assert window == Window(cursor - timedelta(minutes=10), NOW - timedelta(minutes=2))

    def test_initial_backfill_is_capped_by_the_api_lookback(self) -> None:
        policy = WindowPolicy(**{**POLICY.__dict__, "initial_backfill": timedelta(days=1000)})
        window = plan_window(None, NOW, policy)
        assert window is not None
        assert window.start == NOW - timedelta(days=730)

    def test_a_cursor_older_than_the_lookback_starts_at_the_lookback(self) -> None:
        window = plan_window(NOW - timedelta(days=900), NOW, POLICY)
        assert window is not None
        assert window.start == NOW - timedelta(days=730)

    def test_never_plans_a_window_that_would_not_move_the_cursor_forward(self) -> None:
        # A cursor at or past now - settle_lag (e.g. set by a clock that ran ahead).
        assert plan_window(NOW - timedelta(minutes=2), NOW, POLICY) is None
        assert plan_window(NOW + timedelta(hours=1), NOW, POLICY) is None

    def test_a_90_day_backfill_is_a_chain_of_bounded_windows_that_catches_up(self) -> None:
        cursor: datetime | None = None
        windows = []
        while (window := plan_window(cursor, NOW, POLICY)) is not None:
            assert window.end - window.start <= POLICY.max_window
            assert cursor is None or window.end > cursor
            windows.append(window)
            cursor = window.end
        assert windows[0].start == NOW - timedelta(days=90)
        assert windows[-1].end == NOW - POLICY.settle_lag
        # Consecutive windows overlap, so nothing at a boundary is missed.
        for earlier, later in itertools.pairwise(windows):
            assert later.start == earlier.end - POLICY.overlap
        # 90 days in steps of 7 days less the 10-minute overlap.
        assert len(windows) == 13


class TestPlanPair:
    def test_a_new_pair_is_due_at_once_as_catch_up(self) -> None:
        planned = plan_pair(pair(), NOW, POLICY)
        assert planned is not None
        assert planned.trigger is Trigger.CATCH_UP

    def test_a_pair_in_flight_is_not_scheduled_again(self) -> None:
        assert plan_pair(pair(in_flight=True), NOW, POLICY) is None

    def test_a_disabled_pair_is_not_scheduled(self) -> None:
        assert plan_pair(pair(enabled=False), NOW, POLICY) is None

    def test_a_paused_pair_waits_until_its_pause_ends(self) -> None:
        paused = pair(paused_until=NOW + timedelta(minutes=1))
        assert plan_pair(paused, NOW, POLICY) is None
        assert plan_pair(paused, NOW + timedelta(minutes=2), POLICY) is not None

    def test_a_caught_up_pair_waits_for_its_cadence(self) -> None:
        caught_up = pair(cursor=NOW - POLICY.settle_lag - timedelta(minutes=1))
        assert plan_pair(caught_up, NOW, POLICY) is None
        later = NOW + POLICY.cadence
        planned = plan_pair(caught_up, later, POLICY)
        assert planned is not None
        assert planned.trigger is Trigger.SCHEDULE

    def test_a_pair_still_behind_goes_again_at_once(self) -> None:
        behind = pair(cursor=NOW - timedelta(days=30))
        planned = plan_pair(behind, NOW, POLICY)
        assert planned is not None
        assert planned.trigger is Trigger.CATCH_UP
        assert planned.window is not None
        assert planned.window.end == NOW - timedelta(days=30) - POLICY.overlap + POLICY.max_window


class TestPlanSnapshot:
    def test_a_snapshot_never_run_is_due_at_once_without_a_window(self) -> None:
        planned = plan_pair(pair(family=Family.OFFERS), NOW, POLICY)
        assert planned is not None
        assert planned.window is None
        assert planned.trigger is Trigger.CATCH_UP

    def test_a_snapshot_waits_for_its_cadence_after_a_success(self) -> None:
        recent = pair(family=Family.ACTIVE_INVENTORY, cursor=NOW - timedelta(minutes=4))
        assert plan_pair(recent, NOW, POLICY) is None
        due = pair(family=Family.ACTIVE_INVENTORY, cursor=NOW - timedelta(minutes=5))
        planned = plan_pair(due, NOW, POLICY)
        assert planned is not None
        assert planned.trigger is Trigger.SCHEDULE

    def test_a_snapshot_in_flight_is_not_scheduled_again(self) -> None:
        assert plan_pair(pair(family=Family.OFFERS, in_flight=True), NOW, POLICY) is None


def test_plan_keeps_only_due_pairs() -> None:
    pairs = [pair(account_id=1), pair(account_id=2, in_flight=True), pair(account_id=3)]
    assert [p.account_id for p in plan(pairs, NOW, {Family.ORDERS: POLICY})] == [1, 3]


@pytest.mark.parametrize("hours_behind", [0.05, 1, 24, 24 * 30])
def test_every_planned_window_moves_the_cursor_forward(hours_behind: float) -> None:
    cursor = NOW - timedelta(hours=hours_behind)
    planned = plan_pair(pair(cursor=cursor), NOW + POLICY.cadence, POLICY)
    assert planned is None or (planned.window is not None and planned.window.end > cursor)
