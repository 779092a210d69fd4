"""The burst test's judge of "one window in flight per pair" (testkit.push_checks.
overlapping_runs) catches what it must: two runs of a pair open together, a superseded run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from common.db.sync import SyncRun
from testkit.push_checks import overlapping_runs

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def run(
    family: str, queued: int, finished: int | None, status: str = "succeeded", account: int = 1
) -> SyncRun:
    return SyncRun(
        run_id=uuid.uuid4(),
        account_id=account,
        family=family,
        trigger="notification",
        status=status,
        queued_at=T0 + timedelta(seconds=queued),
        finished_at=None if finished is None else T0 + timedelta(seconds=finished),
    )


def test_runs_of_a_pair_one_after_another_pass() -> None:
    runs = [
        run("orders", 0, 5),
        run("orders", 5, 9),
        run("messages", 1, 8),
        run("orders", 2, 6, account=2),
    ]
    assert overlapping_runs(runs) == []


def test_a_second_window_queued_while_the_first_is_open_is_caught() -> None:
    [found] = overlapping_runs([run("orders", 0, 5), run("orders", 4, 9)])
    assert found.startswith("orders:") and "was open" in found


def test_a_run_still_open_is_open_to_every_later_one() -> None:
    assert len(overlapping_runs([run("orders", 0, None, "running"), run("orders", 60, 70)])) == 1


def test_a_superseded_run_is_caught() -> None:
    found = overlapping_runs([run("orders", 0, 5, "stale")])
    assert len(found) == 1 and "superseded" in found[0]
