"""When a refresh phase is due and when an earlier run's mark counts: pure, plus the store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from common.families import PHASE_CADENCES, Family
from common.messages import SyncWindow, Trigger
from fetcher.sources.details import MemoryDigests
from fetcher.sources.marks import Mark, Marks, PhaseClock, is_committed, is_due
from fetcher.sources.trading import checked_span, messages_span

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def window(start: datetime, issued_at: datetime = NOW) -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=7,
        family=Family.CASES,
        window_from=start,
        window_to=issued_at - timedelta(minutes=2),
        trigger=Trigger.SCHEDULE,
        issued_at=issued_at,
    )


def test_a_mark_counts_once_a_later_window_starts_after_its_run() -> None:
    mark = Mark(at=NOW, run_from=NOW - HOUR)
    assert is_committed(mark, window(NOW - HOUR + timedelta(seconds=1)))


def test_a_mark_of_a_run_whose_window_comes_again_does_not_count() -> None:
    # The run failed: the cursor did not move, so the next window starts where it started.
    mark = Mark(at=NOW, run_from=NOW - HOUR)
    assert not is_committed(mark, window(NOW - HOUR))


def test_a_mark_does_not_count_after_a_repair_moved_the_cursor_back() -> None:
    mark = Mark(at=NOW, run_from=NOW - HOUR)
    assert not is_committed(mark, window(NOW - timedelta(days=30)))


def test_a_phase_is_due_when_it_never_ran_or_its_run_is_unproven() -> None:
    assert is_due(None, window(NOW - HOUR), HOUR)
    unproven = Mark(at=NOW, run_from=NOW - HOUR)
    assert is_due(unproven, window(NOW - HOUR), HOUR)


def test_a_phase_is_due_once_its_cadence_passed() -> None:
    mark = Mark(at=NOW - timedelta(minutes=59), run_from=NOW - 2 * HOUR)
    assert not is_due(mark, window(NOW - HOUR), HOUR)
    ran_an_hour_ago = Mark(at=NOW - HOUR, run_from=NOW - 2 * HOUR)
    assert is_due(ran_an_hour_ago, window(NOW - HOUR), HOUR)


def test_a_phase_is_due_when_the_clock_went_back_past_its_last_run() -> None:
    mark = Mark(at=NOW + HOUR, run_from=NOW - 2 * HOUR)
    assert is_due(mark, window(NOW - HOUR), HOUR)


def test_a_phase_without_cadence_runs_every_window() -> None:
    mark = Mark(at=NOW, run_from=NOW - 2 * HOUR)
    assert is_due(mark, window(NOW - HOUR), None)


async def test_marks_round_trip_through_the_store() -> None:
    marks = Marks(MemoryDigests())
    mark = Mark(at=NOW, run_from=NOW - HOUR, seen="abc123")
    await marks.put("k", mark)
    assert await marks.get("k") == mark
    assert await marks.get("other") is None


async def test_the_clock_records_a_phase_and_a_later_window_skips_it_until_due() -> None:
    clock = PhaseClock(Marks(MemoryDigests()), PHASE_CADENCES[Family.CASES])
    first = window(NOW - HOUR)
    assert await clock.is_due(Family.CASES, first, "open")
    await clock.ran(Family.CASES, first, ["open"])()
    # The same window again (a redelivery, or a retry after a failure): still due.
    assert await clock.is_due(Family.CASES, first, "open")
    # The next window, 10 minutes later: the run committed, open ran 10 minutes ago.
    later = window(NOW - timedelta(minutes=12), NOW + timedelta(minutes=10))
    assert not await clock.is_due(Family.CASES, later, "open")
    # 30 minutes after it ran: due again.
    due = window(NOW - timedelta(minutes=12), NOW + timedelta(minutes=30))
    assert await clock.is_due(Family.CASES, due, "open")
    # A phase with no cadence is always due.
    assert await clock.is_due(Family.CASES, later, "window")


def test_the_messages_check_starts_at_a_day_boundary_and_covers_the_window() -> None:
    caught_up = window(NOW - timedelta(minutes=12))
    start, end = checked_span(caught_up, timedelta(days=7), timedelta(days=1))
    assert start == datetime(2026, 11, 16, tzinfo=UTC)
    assert end == caught_up.window_to
    assert messages_span(caught_up, timedelta(days=7), timedelta(days=1)) == (start, end)
    # A window reaching further back is read from its own start.
    backfill = window(NOW - timedelta(days=20))
    assert messages_span(backfill, timedelta(days=7), timedelta(days=1))[0] == (
        backfill.window_from
    )
