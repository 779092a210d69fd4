"""A worker's status light (pure): each condition has its light and says why; the facts of a
pair as stored, a stuck run counted as failed; why an account cannot sync."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from common.families import Family
from common.windows import WindowPolicy
from common.workers import (
    STUCK_AFTER,
    Light,
    NewestRun,
    WorkerFacts,
    account_blocked,
    worker_facts,
    worker_verdict,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = WindowPolicy(
    overlap=timedelta(minutes=10),
    initial_backfill=timedelta(days=90),
    lookback_limit=timedelta(days=730),
    max_window=timedelta(days=7),
    settle_lag=timedelta(minutes=2),
    cadence=timedelta(minutes=5),
)


def facts(**overrides: object) -> WorkerFacts:
    values: dict[str, object] = {
        "enabled": True,
        "fresh_to": NOW - timedelta(minutes=4),
        "paused_until": None,
        "last_error": None,
        "consecutive_failures": 0,
        "last_run_status": "succeeded",
        "last_run_error": None,
        "run_open": False,
        "pages_written": 0,
        "pages_expected": None,
        "account_blocked": None,
    }
    values.update(overrides)
    return WorkerFacts(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Account:
    active: bool
    revoked_at: datetime | None
    needs_reauth: bool


class TestWorkerLight:
    @pytest.mark.parametrize(
        ("overrides", "light"),
        [
            ({}, Light.OK),
            ({"enabled": False, "last_error": "boom"}, Light.DISABLED),
            ({"account_blocked": "reconnect"}, Light.FAILING),
            ({"paused_until": NOW + timedelta(hours=1), "last_error": "boom"}, Light.PAUSED),
            ({"paused_until": NOW - timedelta(hours=1)}, Light.OK),
            ({"run_open": True, "pages_written": 2, "pages_expected": 5}, Light.RUNNING),
            ({"last_run_status": "failed"}, Light.FAILING),
            ({"last_error": "HTTP 500"}, Light.FAILING),
            ({"fresh_to": None, "last_run_status": None}, Light.IDLE),
            ({"fresh_to": NOW - timedelta(hours=1)}, Light.BEHIND),
        ],
    )
    def test_each_condition_has_its_light(self, overrides: dict[str, object], light: Light) -> None:
        assert worker_verdict(facts(**overrides), NOW, POLICY).light is light

    def test_the_reason_says_why(self) -> None:
        verdict = worker_verdict(
            facts(run_open=True, pages_written=2, pages_expected=5, last_error="HTTP 429"),
            NOW,
            POLICY,
        )
        assert verdict.reason == "running, page 2/5 (retrying after: HTTP 429)"
        behind = worker_verdict(facts(fresh_to=NOW - timedelta(hours=3)), NOW, POLICY)
        assert behind.reason == "3h behind"


def stored(run: NewestRun | None, family: Family = Family.ORDERS) -> WorkerFacts:
    return worker_facts(
        family=family,
        enabled=True,
        cursor=NOW - timedelta(minutes=4),
        last_success_at=NOW - timedelta(hours=2),
        paused_until=None,
        last_error=None,
        consecutive_failures=0,
        run=run,
        blocked=None,
        now=NOW,
    )


def run(status: str, moved_ago: timedelta) -> NewestRun:
    return NewestRun(uuid.uuid4(), status, NOW - moved_ago, None, 2, 5)


class TestStoredFacts:
    def test_an_incremental_pair_is_fresh_to_its_cursor_a_snapshot_to_its_last_success(
        self,
    ) -> None:
        assert stored(None).fresh_to == NOW - timedelta(minutes=4)
        assert stored(None, Family.OFFERS).fresh_to == NOW - timedelta(hours=2)

    def test_an_open_run_that_moves_is_running(self) -> None:
        facts = stored(run("running", STUCK_AFTER - timedelta(seconds=1)))
        assert worker_verdict(facts, NOW, POLICY).reason == "running, page 2/5"

    def test_an_open_run_that_stopped_moving_is_failing_and_says_since_when(self) -> None:
        stuck = run("queued", STUCK_AFTER + timedelta(seconds=1))
        verdict = worker_verdict(stored(stuck), NOW, POLICY)
        assert verdict.light is Light.FAILING
        assert verdict.reason.startswith(f"run {stuck.run_id} made no progress since")

    def test_an_ended_run_is_never_stuck(self) -> None:
        assert worker_verdict(stored(run("succeeded", timedelta(days=1))), NOW, POLICY).light is (
            Light.OK
        )


@pytest.mark.parametrize(
    ("active", "revoked", "needs_reauth", "reason"),
    [
        (True, False, False, None),
        (False, True, True, "account deactivated"),
        (True, True, True, "revoked ebaysync's access"),
        (True, False, True, "eBay refused the refresh token: reconnect the account"),
    ],
)
def test_why_an_account_cannot_sync(
    active: bool, revoked: bool, needs_reauth: bool, reason: str | None
) -> None:
    account = Account(active, NOW if revoked else None, needs_reauth)
    found = account_blocked(account)
    # The first reason that applies, worst first.
    assert found is None if reason is None else found is not None and reason in found
