"""When a refresh phase is due and when an earlier run's mark counts: pure, plus the store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from common.families import PHASE_CADENCES, Family
from common.messages import SyncWindow, Trigger
from fetcher.sources.details import MemoryDigests, Seen
from fetcher.sources.marks import Mark, Marks, PhaseClock, is_due, phase_key, trusts
from fetcher.sources.trading import checked_span, messages_span

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
COMMITTED = uuid.uuid4()


def window(
    start: datetime, issued_at: datetime = NOW, committed_run: uuid.UUID | None = COMMITTED
) -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=7,
        family=Family.CASES,
        window_from=start,
        window_to=issued_at - timedelta(minutes=2),
        trigger=Trigger.SCHEDULE,
        issued_at=issued_at,
        committed_run=committed_run,
    )


def test_a_mark_of_the_last_committed_run_counts() -> None:
    assert trusts(Mark(at=NOW, run=COMMITTED), window(NOW - HOUR))


def test_a_mark_of_a_run_that_never_committed_does_not_count_whatever_the_window() -> None:
    # A run fenced off, failed or dead-lettered wrote it: its pages may not be in the mirror.
    # Windows of a pair without a cursor start at "now - backfill", so a window sent after it
    # starts later than it did (the writer-stall loss): the start proves nothing.
    uncommitted = Mark(at=NOW, run=uuid.uuid4())
    for start in (NOW - 2 * HOUR, NOW - HOUR, NOW - timedelta(minutes=12)):
        assert not trusts(uncommitted, window(start))


def test_no_mark_counts_when_the_window_names_no_committed_run() -> None:
    # A manual run, a repair, a pair that never committed: every phase is due.
    assert not trusts(Mark(at=NOW, run=COMMITTED), window(NOW - HOUR, committed_run=None))
    assert not trusts(None, window(NOW - HOUR))


def test_a_runs_own_marks_count_within_it() -> None:
    # Pages of one run agree on what is due: its pages commit together or not at all.
    own = window(NOW - HOUR, committed_run=None)
    assert trusts(Mark(at=NOW, run=own.run_id), own)


def test_a_phase_is_due_when_it_never_ran_or_its_run_is_untrusted() -> None:
    assert is_due(None, window(NOW - HOUR), HOUR)
    assert is_due(Mark(at=NOW, run=uuid.uuid4()), window(NOW - HOUR), HOUR)


def test_a_phase_is_due_once_its_cadence_passed() -> None:
    mark = Mark(at=NOW - timedelta(minutes=59), run=COMMITTED)
    assert not is_due(mark, window(NOW - HOUR), HOUR)
    ran_an_hour_ago = Mark(at=NOW - HOUR, run=COMMITTED)
    assert is_due(ran_an_hour_ago, window(NOW - HOUR), HOUR)


def test_a_phase_is_due_when_the_clock_went_back_past_its_last_run() -> None:
    assert is_due(Mark(at=NOW + HOUR, run=COMMITTED), window(NOW - HOUR), HOUR)


def test_a_phase_without_cadence_runs_every_window() -> None:
    assert is_due(Mark(at=NOW, run=COMMITTED), window(NOW - HOUR), None)


async def test_marks_round_trip_through_the_store() -> None:
    marks = Marks(MemoryDigests())
    mark = Mark(at=NOW, run=COMMITTED, seen="abc123", vouches=uuid.uuid4())
    await marks.put("k", mark)
    assert await marks.get("k") == mark
    await marks.put("plain", Mark(at=NOW, run=COMMITTED))
    assert await marks.get("plain") == Mark(at=NOW, run=COMMITTED)
    assert await marks.get("other") is None


async def test_a_mark_stored_before_run_ids_reads_as_none() -> None:
    store = MemoryDigests()
    await store.put("old", Seen("1763900000000~abc", NOW.timestamp()))
    assert await Marks(store).get("old") is None


async def test_the_clock_skips_a_phase_only_after_the_run_that_ran_it_committed() -> None:
    clock = PhaseClock(Marks(MemoryDigests()), PHASE_CADENCES[Family.CASES])
    before = uuid.uuid4()
    first = window(NOW - HOUR, committed_run=before)
    assert await clock.is_due(Family.CASES, first, "open")
    await clock.ran(Family.CASES, first, ["open"])()
    # The next window, 10 minutes later, while that run has not committed (its pages stalled
    # in the writer, fenced off): ``open`` is due again, whatever the window's start.
    stalled = window(NOW - timedelta(minutes=12), NOW + timedelta(minutes=10), before)
    assert await clock.is_due(Family.CASES, stalled, "open")
    # Once it committed, the next window skips ``open`` until its cadence passed.
    later = window(NOW - timedelta(minutes=12), NOW + timedelta(minutes=10), first.run_id)
    assert not await clock.is_due(Family.CASES, later, "open")
    due = window(NOW - timedelta(minutes=12), NOW + timedelta(minutes=30), first.run_id)
    assert await clock.is_due(Family.CASES, due, "open")
    # A phase with no cadence is always due.
    assert await clock.is_due(Family.CASES, later, "window")


async def test_a_run_that_skips_a_phase_carries_its_mark_for_the_next_window() -> None:
    marks = Marks(MemoryDigests())
    clock = PhaseClock(marks, PHASE_CADENCES[Family.CASES])
    first = window(NOW - HOUR, committed_run=None)
    await clock.ran(Family.CASES, first, ["open"])()
    second = window(NOW - HOUR, NOW + timedelta(minutes=5), first.run_id)
    assert not await clock.is_due(Family.CASES, second, "open")
    # Carried under the second run, still dated when ``open`` ran: once the second run
    # commits, the third trusts it, and ``open`` is due when its cadence since then passed.
    assert await marks.get(phase_key(Family.CASES, 7, "open")) == Mark(at=NOW, run=second.run_id)
    third = window(NOW - HOUR, NOW + timedelta(minutes=10), second.run_id)
    assert not await clock.is_due(Family.CASES, third, "open")
    fourth = window(NOW - HOUR, NOW + timedelta(minutes=30), third.run_id)
    assert await clock.is_due(Family.CASES, fourth, "open")


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
