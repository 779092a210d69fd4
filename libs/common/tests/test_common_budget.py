"""The budget planner (pure): never above any quota, the share respected, fallbacks said in the
notes, per-pair backoff bounded by the family's worst staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.budget import (
    DEFAULT_FRESHNESS,
    BudgetInputs,
    BudgetReport,
    BudgetSettings,
    PairLoad,
    QuotaReading,
    backed_off,
    plan_budget,
    planned_policies,
)
from common.db.sync import PairState
from common.ebay.quota import EbayApi
from common.families import PURPOSE_FAMILIES, Family, Purpose
from common.ledger import DailyQuotas
from common.scheduling import next_due_at
from common.settings import WindowSettings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SELLER = PURPOSE_FAMILIES[Purpose.BOTH]


def accounts(count: int, quiet_runs: int = 0) -> dict[Family, list[PairLoad]]:
    return {f: [PairLoad(i, quiet_runs) for i in range(count)] for f in SELLER}


def plan(count: int, **changes: object) -> BudgetReport:
    inputs: dict[str, object] = {
        "now": NOW,
        "configured": DailyQuotas(),
        "used_today": {},
        "pairs": accounts(count),
        "horizon": DAY,
    }
    inputs.update(changes)
    settings = inputs.pop("settings", BudgetSettings())
    assert isinstance(settings, BudgetSettings)
    return plan_budget(BudgetInputs(**inputs), settings)  # type: ignore[arg-type]


def test_seventy_accounts_keep_every_family_within_its_aim_under_the_default_quotas() -> None:
    report = plan(73)
    assert all(f.within_aim for f in report.families), report.families
    assert all(a.projected_today <= a.budget for a in report.apis)
    assert not report.notes


@pytest.mark.parametrize("count", [74, 200, 1000, 5000])
def test_many_accounts_never_plan_above_the_share_of_any_quota(count: int) -> None:
    report = plan(count)
    assert all(a.projected_today <= a.budget <= a.quota for a in report.apis), report.apis
    trading = {f.family: f for f in report.families}
    # Trading binds first (from 74 accounts): its families stretch; Fulfillment's orders stay
    # at their aim up to 312 accounts (90,000 calls / 288 a day).
    assert not trading[Family.MESSAGES].within_aim
    assert trading[Family.ORDERS].within_aim == (count <= 312)


def test_a_smaller_share_stretches_sooner() -> None:
    full = plan(73, settings=BudgetSettings(share=1.0))
    half = plan(73, settings=BudgetSettings(share=0.5))
    messages = (full.family(Family.MESSAGES), half.family(Family.MESSAGES))
    assert messages[0] is not None and messages[1] is not None
    assert messages[0].interval_seconds < messages[1].interval_seconds
    trading = next(a for a in half.apis if a.api == "trading")
    assert trading.budget == 2500 and trading.projected_today <= 2500


def test_calls_spent_today_count_against_the_budget() -> None:
    fresh = plan(10)
    spent = plan(10, used_today={EbayApi.TRADING: 4000})
    trading = next(a for a in spent.apis if a.api == "trading")
    assert trading.used_today == 4000 and trading.projected_today <= trading.budget
    fresh_messages, spent_messages = fresh.family(Family.MESSAGES), spent.family(Family.MESSAGES)
    assert fresh_messages and spent_messages
    assert spent_messages.interval_seconds > fresh_messages.interval_seconds


def test_a_spent_budget_plans_the_rest_of_the_quota_and_says_so() -> None:
    report = plan(10, used_today={EbayApi.TRADING: 4600})
    trading = next(a for a in report.apis if a.api == "trading")
    assert trading.projected_today <= trading.quota
    assert any("budget" in note and "trading" in note for note in report.notes)
    messages = report.family(Family.MESSAGES)
    assert messages is not None and messages.interval_seconds < 365 * 86400


def test_a_truly_short_quota_polls_beyond_the_worst_and_says_so() -> None:
    report = plan(10, configured=DailyQuotas(trading=20))
    messages = report.family(Family.MESSAGES)
    assert messages is not None
    assert messages.interval_seconds > messages.worst_seconds
    assert "beyond" in messages.reason
    assert any("short" in note for note in report.notes)
    trading = next(a for a in report.apis if a.api == "trading")
    assert trading.projected_today <= trading.budget


def test_a_quota_of_zero_falls_back_to_the_default_and_says_so() -> None:
    report = plan(5, configured=DailyQuotas(trading=0))
    trading = next(a for a in report.apis if a.api == "trading")
    assert trading.quota == 5000
    assert any("trading" in note and "5000" in note for note in report.notes)


def test_a_plausible_reading_replaces_the_configured_quota() -> None:
    resets = plan(1, horizon=None).resets_at
    reading = [
        QuotaReading(
            api=EbayApi.TRADING, limit=1500000, remaining=1400000, reset=resets, read_at=NOW
        )
    ]
    report = plan(5, reading=reading)
    trading = next(a for a in report.apis if a.api == "trading")
    assert report.quota_source == "getRateLimits"
    assert (trading.quota, trading.used_today) == (1500000, 100000)


@pytest.mark.parametrize(
    ("limit", "remaining", "reset_shift", "read_shift"),
    [
        (0, 0, timedelta(0), timedelta(0)),  # no quota at all
        (5000, 6000, timedelta(0), timedelta(0)),  # more left than the limit
        (5000, 10, timedelta(hours=7), timedelta(0)),  # a clock far off
        (5000, 10, timedelta(0), timedelta(hours=3)),  # taken in this clock's future
        (5000, 10, timedelta(0), -timedelta(days=3)),  # stale
    ],
)
def test_a_nonsense_reading_falls_back_to_the_configured_quotas(
    limit: int, remaining: int, reset_shift: timedelta, read_shift: timedelta
) -> None:
    resets = plan(1, horizon=None).resets_at
    reading = [
        QuotaReading(
            api=EbayApi.TRADING,
            limit=limit,
            remaining=remaining,
            reset=resets + reset_shift,
            read_at=NOW + read_shift,
        )
    ]
    report = plan(5, reading=reading, configured=DailyQuotas(trading=3000))
    trading = next(a for a in report.apis if a.api == "trading")
    assert (report.quota_source, trading.quota) == ("configured", 3000)
    assert report.notes


def test_post_order_resources_are_budgeted_apart() -> None:
    report = plan(10, configured=DailyQuotas(postorder_cases=30))
    cases, returns = report.family(Family.CASES), report.family(Family.RETURNS)
    assert cases and returns
    assert not cases.within_aim and returns.within_aim


def test_quiet_pairs_back_off_toward_the_worst_and_free_calls() -> None:
    pairs = accounts(100)
    pairs[Family.MESSAGES] = [PairLoad(i, quiet_runs=50 if i % 2 else 0) for i in range(100)]
    report = plan(100, pairs=pairs)
    messages = report.family(Family.MESSAGES)
    assert messages is not None
    assert messages.slowed_pairs == 50
    assert messages.worst_staleness_seconds <= max(
        messages.worst_seconds, messages.interval_seconds
    )
    busy = plan(100).family(Family.MESSAGES)
    assert busy is not None and messages.interval_seconds < busy.interval_seconds
    assert len(report.slowed) == 50 and all(s.reason for s in report.slowed)


def test_the_slowed_list_is_bounded() -> None:
    report = plan(300, pairs=accounts(300, quiet_runs=10))
    assert len(report.slowed) == 100
    assert sum(f.slowed_pairs for f in report.families) > 100


def test_backoff_doubles_from_the_threshold_and_stops_at_the_worst() -> None:
    aim, worst = DEFAULT_FRESHNESS[Family.ORDERS].aim, DEFAULT_FRESHNESS[Family.ORDERS].worst
    steps = [backed_off(aim, worst, quiet, 2) for quiet in range(8)]
    assert steps[:2] == [aim, aim]
    assert steps[2:5] == [2 * aim, 4 * aim, 8 * aim]
    assert steps[-1] == worst
    # A plan stretched past the worst is never shortened by the backoff.
    assert backed_off(2 * worst, worst, 10, 2) == 2 * worst


def test_learned_calls_per_run_correct_the_model() -> None:
    runs = {Family.MESSAGES: 100, Family.ACTIVE_INVENTORY: 0, Family.PURCHASES: 0}
    cheap = plan(73, runs_today=runs, used_today={EbayApi.TRADING: 100})
    dear = plan(73, runs_today=runs, used_today={EbayApi.TRADING: 500})
    assert all(f.within_aim for f in cheap.families)
    dear_messages = dear.family(Family.MESSAGES)
    assert dear_messages is not None and not dear_messages.within_aim
    assert dear_messages.calls_per_run > 4


def test_the_report_is_json() -> None:
    report = plan(3)
    assert BudgetReport.model_validate_json(report.model_dump_json()) == report


def configured_floors() -> dict[Family, timedelta]:
    """The scheduler's default cadences (5 min; snapshots hourly), as it passes them."""
    settings = WindowSettings()
    return {family: settings.policy(family).cadence for family in SELLER}


def test_calls_to_spare_poll_at_the_configured_cadence_and_back_nobody_off() -> None:
    pairs = accounts(3, quiet_runs=10)
    report = plan(3, pairs=pairs, floors=configured_floors())
    for family in report.families:
        cadence = configured_floors()[family.family].total_seconds()
        # Messages aim at 30 min, listings at 3 h: a budget with calls to spare never polls
        # them more slowly than the cadence the operator configured.
        assert family.interval_seconds == cadence, family
        assert family.worst_staleness_seconds == cadence
        assert not family.backs_off and family.slowed_pairs == 0 and family.within_aim
    assert report.slowed == []
    assert all(a.projected_today <= a.budget for a in report.apis)


def test_a_short_budget_stretches_from_the_cadence_toward_the_aim_first() -> None:
    report = plan(60, floors=configured_floors())
    messages = report.family(Family.MESSAGES)
    assert messages is not None and messages.backs_off
    assert 300 < messages.interval_seconds <= messages.aim_seconds
    assert messages.within_aim and "aim" in messages.reason
    trading = next(a for a in report.apis if a.api == "trading")
    assert trading.projected_today <= trading.budget
    # Fulfillment has calls to spare for 60 sellers' orders: they keep their cadence.
    orders = report.family(Family.ORDERS)
    assert orders is not None and orders.interval_seconds == 300 and not orders.backs_off


def test_runs_in_flight_count_as_spent() -> None:
    idle = plan(8, configured=DailyQuotas(fulfillment=1400), floors=configured_floors())
    pairs = accounts(8)
    pairs[Family.ORDERS] = [PairLoad(i, in_flight=True) for i in range(8)]
    flying = plan(
        8, pairs=pairs, configured=DailyQuotas(fulfillment=1400), floors=configured_floors()
    )
    fulfillment = [next(a for a in p.apis if a.api == "fulfillment") for p in (idle, flying)]
    assert fulfillment[1].projected_today <= fulfillment[1].budget
    # Eight runs on their way: eight calls fewer for the rest of the day.
    idle_orders, flying_orders = idle.family(Family.ORDERS), flying.family(Family.ORDERS)
    assert idle_orders is not None and flying_orders is not None
    assert flying_orders.interval_seconds > idle_orders.interval_seconds


def test_a_short_budget_backs_quiet_pairs_off_before_it_slows_busy_ones() -> None:
    # Fulfillment's budget fits 4 busy sellers' orders at the 5-min cadence, not 8.
    quotas = DailyQuotas(fulfillment=1400)
    busy = plan(8, configured=quotas, floors=configured_floors())
    pairs = accounts(8)
    pairs[Family.ORDERS] = [PairLoad(i, quiet_runs=0 if i < 4 else 20) for i in range(8)]
    mixed = plan(8, pairs=pairs, configured=quotas, floors=configured_floors())
    busy_orders, mixed_orders = busy.family(Family.ORDERS), mixed.family(Family.ORDERS)
    assert busy_orders is not None and mixed_orders is not None
    assert busy_orders.interval_seconds > 300
    assert mixed_orders.interval_seconds == 300 and mixed_orders.backs_off
    assert mixed_orders.slowed_pairs == 4 and "quiet" in mixed_orders.reason
    fulfillment = next(a for a in mixed.apis if a.api == "fulfillment")
    assert fulfillment.projected_today <= fulfillment.budget


def test_the_scheduler_backs_a_quiet_pair_off_by_the_plan_only_when_it_is_short() -> None:
    configured = WindowSettings().policy(Family.ORDERS)
    cursor = NOW - configured.settle_lag

    def due(report: BudgetReport, quiet_runs: int) -> datetime:
        policy = planned_policies({Family.ORDERS: configured}, report)[Family.ORDERS]
        pair = PairState(1, Family.ORDERS, True, cursor, None, None, False, None, quiet_runs)
        return next_due_at(pair, NOW, policy)

    short = plan(8, configured=DailyQuotas(fulfillment=1400), floors=configured_floors())
    orders = short.family(Family.ORDERS)
    assert orders is not None and orders.backs_off
    interval = timedelta(seconds=orders.interval_seconds)
    assert due(short, 0) == cursor + interval + configured.settle_lag
    assert due(short, 3) == cursor + 4 * interval + configured.settle_lag
    worst = timedelta(seconds=orders.worst_seconds)
    assert due(short, 100) == cursor + worst + configured.settle_lag
    # With calls to spare the quietest pair keeps the configured cadence.
    ample = plan(3, floors=configured_floors())
    assert due(ample, 100) == cursor + configured.cadence + configured.settle_lag
    # Without a plan the configured cadence stands and nothing backs off.
    assert planned_policies({Family.ORDERS: configured}, None)[Family.ORDERS] == configured
