"""The Schedule panel's projection is the scheduler's own plan (pure, no fixtures)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from common.db.sync import PairState
from common.families import SNAPSHOT_FAMILIES, Family
from common.messages import Trigger
from common.scheduling import (
    PlannedWindow,
    next_due_at,
    plan_or_recheck,
    plan_pair,
    project_schedule,
    window_command,
)
from common.windows import Window, WindowPolicy, plan_window

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = WindowPolicy(
    overlap=timedelta(minutes=10),
    initial_backfill=timedelta(days=90),
    lookback_limit=timedelta(days=730),
    max_window=timedelta(days=7),
    settle_lag=timedelta(minutes=2),
    cadence=timedelta(minutes=5),
)
SECOND = timedelta(seconds=1)


def pair(family: Family = Family.ORDERS, **overrides: object) -> PairState:
    values: dict[str, object] = {
        "account_id": 1,
        "family": family,
        "enabled": True,
        "cursor": None,
        "paused_until": None,
        "last_success_at": None,
        "in_flight": False,
    }
    values.update(overrides)
    return PairState(**values)  # type: ignore[arg-type]


class TestScheduleProjection:
    def test_a_new_pair_backfills_in_a_chain_of_bounded_windows_now(self) -> None:
        projection = project_schedule(pair(), NOW, POLICY, blocked_by=None, limit=20)
        assert projection.next_due_at == NOW
        assert projection.windows[0] == plan_window(None, NOW, POLICY)
        assert projection.windows[-1].end == NOW - POLICY.settle_lag
        assert all(w.end - w.start <= POLICY.max_window for w in projection.windows)
        assert len(projection.windows) == 13 and not projection.more_windows

    def test_the_chain_is_cut_at_the_limit(self) -> None:
        projection = project_schedule(pair(), NOW, POLICY, blocked_by=None, limit=3)
        assert len(projection.windows) == 3 and projection.more_windows

    def test_a_caught_up_pair_waits_for_its_cadence(self) -> None:
        cursor = NOW - POLICY.settle_lag - timedelta(minutes=1)
        projection = project_schedule(pair(cursor=cursor), NOW, POLICY, blocked_by=None, limit=10)
        due = cursor + POLICY.cadence + POLICY.settle_lag
        assert projection.next_due_at == due
        assert projection.windows == [Window(cursor - POLICY.overlap, due - POLICY.settle_lag)]

    def test_a_blocked_pair_has_no_due_time(self) -> None:
        projection = project_schedule(pair(), NOW, POLICY, blocked_by="worker disabled", limit=10)
        assert projection.next_due_at is None and projection.blocked_by == "worker disabled"

    def test_a_snapshot_is_projected_as_one_window_less_snapshot_at_its_cadence(self) -> None:
        # The case the old projection got wrong: it showed a window 11:20 -> 12:30 due at 12:32.
        taken = NOW - timedelta(minutes=2)
        projection = project_schedule(
            pair(Family.OFFERS, cursor=taken), NOW, POLICY, blocked_by=None, limit=10
        )
        assert projection.snapshot and projection.windows == []
        assert projection.next_due_at == taken + POLICY.cadence


# Cursors covering every situation: none, far behind, just behind, caught up, ahead of the clock.
CURSORS = [
    None,
    NOW - timedelta(days=30),
    NOW - POLICY.settle_lag - POLICY.cadence - timedelta(minutes=1),
    NOW - POLICY.settle_lag - timedelta(minutes=1),
    NOW - POLICY.settle_lag,
    NOW - timedelta(seconds=30),
    NOW + timedelta(minutes=3),
]
PAUSES = [None, NOW - timedelta(minutes=1), NOW + timedelta(minutes=7)]


@pytest.mark.parametrize("family", list(Family))
@pytest.mark.parametrize("cursor", CURSORS)
@pytest.mark.parametrize("paused_until", PAUSES)
def test_the_projection_is_what_the_scheduler_sends(
    family: Family, cursor: datetime | None, paused_until: datetime | None
) -> None:
    """For every family kind: at the projected due time the scheduler sends exactly the
    projected first window (or the snapshot), and one second earlier it sends nothing."""
    state = pair(family, cursor=cursor, paused_until=paused_until)
    projection = project_schedule(state, NOW, POLICY, blocked_by=None, limit=10)
    due = projection.next_due_at
    assert due is not None and due >= NOW
    sent = plan_pair(state, due, POLICY)
    assert sent is not None
    if family in SNAPSHOT_FAMILIES:
        assert projection.snapshot and sent.window is None and projection.windows == []
    else:
        assert not projection.snapshot
        assert sent.window == projection.windows[0]
    if due > NOW:
        assert plan_pair(state, due - SECOND, POLICY) is None
    # The scheduler's command for it carries the projected window (or none, for a snapshot).
    command = window_command(sent, due, fence=1)
    assert command.window_from == (projection.windows[0].start if projection.windows else None)
    assert command.window_to == (projection.windows[0].end if projection.windows else due)


def test_the_due_time_ignores_what_only_an_operator_or_a_finished_run_changes() -> None:
    state = pair(cursor=NOW - timedelta(days=1))
    assert next_due_at(replace(state, in_flight=True), NOW, POLICY) == NOW
    assert next_due_at(replace(state, enabled=False), NOW, POLICY) == NOW


def test_a_manual_command_of_a_snapshot_has_no_window_and_a_run_dedup_id() -> None:
    command = window_command(PlannedWindow(1, Family.OFFERS, None, Trigger.MANUAL), NOW, fence=1)
    assert command.window_from is None and command.window_to == NOW
    assert command.message_id == f"run:{command.run_id}"


@pytest.mark.parametrize("family", list(Family))
@pytest.mark.parametrize("cursor", CURSORS)
@pytest.mark.parametrize("paused_until", PAUSES)
@pytest.mark.parametrize("in_flight", [False, True])
def test_the_ticks_one_decision_is_plan_pair_or_else_its_recheck_time(
    family: Family, cursor: datetime | None, paused_until: datetime | None, in_flight: bool
) -> None:
    """The scheduler stores the recheck time of every pair it does not send: never later than
    the moment plan_pair would send it (a pair not due is not sent; a due one is not missed)."""
    until = NOW + timedelta(minutes=30) if in_flight else None
    state = pair(
        family,
        cursor=cursor,
        paused_until=paused_until,
        in_flight=in_flight,
        in_flight_until=until,
    )
    decision = plan_or_recheck(state, NOW, POLICY)
    sent = plan_pair(state, NOW, POLICY)
    if sent is not None:
        assert decision == sent
        return
    assert isinstance(decision, datetime)
    if in_flight:
        assert decision == until
    else:
        assert decision == next_due_at(state, NOW, POLICY)
        assert decision == NOW or plan_pair(state, decision - SECOND, POLICY) is None
        assert plan_pair(state, decision, POLICY) is not None


def test_a_disabled_pair_is_not_looked_at_until_it_changes() -> None:
    assert plan_or_recheck(pair(enabled=False), NOW, POLICY) is None
