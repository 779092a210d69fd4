"""eBay's stored getRateLimits answer read for the planner (common.quotas.quota_readings): sound
limits go to the planner, everything else stays configured with a note; and through
plan_budget, what the planner makes of a limit of 0, a stale reading or a clock far off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.budget import BudgetInputs, BudgetReport, BudgetSettings, plan_budget
from common.ebay.quota import EbayApi
from common.ledger import DailyQuotas
from common.quotas import StoredReading, quota_readings

# 12:00 UTC on 2025-06-01 is 05:00 Pacific daylight time: the next reset is 07:00 UTC tomorrow.
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RESET = "2025-06-02T07:00:00.000Z"
CONFIGURED = DailyQuotas()


def rate(limit: Any = 5000, count: Any = 10, reset: Any = RESET, window: Any = 86400) -> Any:
    remaining = limit - count if isinstance(limit, int) and not isinstance(limit, bool) else 0
    return {
        "count": count,
        "limit": limit,
        "remaining": max(0, remaining),
        "reset": reset,
        "timeWindow": window,
    }


def api(context: str, name: str, resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiContext": context,
        "apiName": name,
        "apiVersion": "v1",
        "resources": [{"name": n, "rates": [r]} for n, r in resources.items()],
    }


def full(**overrides: Any) -> list[Any]:
    """A reading of every API the ledger knows, each with ``overrides`` applied to its rates."""
    return [
        api(
            "sell",
            "Fulfillment",
            {"order": rate(120_000, **overrides), "payment_dispute": rate(260_000, **overrides)},
        ),
        api("sell", "Finances", {"sell.finances": rate(20_000, **overrides)}),
        api("sell", "Inventory", {"sell.inventory": rate(2_000_000, **overrides)}),
        api(
            "TradingAPI",
            "TradingAPI",
            {
                "GetMyMessages": rate(6_000, **overrides),
                "GetMyeBaySelling": rate(7_000, **overrides),
                "GetMyeBayBuying": rate(8_000, **overrides),
                "GetUser": rate(1, **overrides),  # not a call the families make: ignored
            },
        ),
        api(
            "sell",
            "PostOrder",
            {
                "casemanagement": rate(5_500, **overrides),
                "inquiry": rate(5_000, **overrides),
                "return": rate(6_000, **overrides),
            },
        ),
    ]


def reading(limits: list[Any], read_at: datetime = NOW) -> StoredReading:
    return StoredReading(read_at=read_at, ok=True, rate_limits=limits)


def limits_of(stored: StoredReading | None) -> tuple[dict[EbayApi, int], list[str]]:
    readings, notes = quota_readings(stored, CONFIGURED)
    return {r.api: r.limit for r in readings}, notes


def plan(stored: StoredReading | None, now: datetime = NOW) -> BudgetReport:
    readings, notes = quota_readings(stored, CONFIGURED)
    inputs = BudgetInputs(now=now, configured=CONFIGURED, used_today={}, pairs={}, reading=readings)
    report = plan_budget(inputs, BudgetSettings())
    return report.model_copy(update={"notes": notes + report.notes})


def quotas_of(report: BudgetReport) -> dict[str, int]:
    return {a.api: a.quota for a in report.apis}


def test_a_sound_reading_gives_ebays_limits_per_ledger_api() -> None:
    limits, notes = limits_of(reading(full()))
    assert notes == []
    assert limits == {
        EbayApi.FULFILLMENT: 120_000,
        EbayApi.PAYMENT_DISPUTE: 260_000,
        EbayApi.FINANCES: 20_000,
        EbayApi.INVENTORY: 2_000_000,
        EbayApi.TRADING: 6_000,  # the least of the Trading calls the families make
        EbayApi.POSTORDER_CASES: 5_500,
        EbayApi.POSTORDER_INQUIRIES: 5_000,
        EbayApi.POSTORDER_RETURNS: 6_000,
    }
    [trading] = [r for r in quota_readings(reading(full()), CONFIGURED)[0] if r.api == "trading"]
    assert (trading.remaining, trading.read_at) == (5_990, NOW)
    assert trading.reset == datetime(2025, 6, 2, 7, tzinfo=UTC)
    report = plan(reading(full()))
    assert report.quota_source == "getRateLimits"
    assert quotas_of(report)["trading"] == 6_000


def test_api_names_are_matched_whatever_their_casing() -> None:
    limits, notes = limits_of(reading([api("SELL", "FINANCES", {"x": rate(20_001)})]))
    assert limits == {EbayApi.FINANCES: 20_001}
    assert len(notes) == 7  # every other API stays configured, each said


@pytest.mark.parametrize(
    ("limit", "why"),
    [
        ("5000", "not a number"),
        (None, "missing"),
        (True, "not a number"),
        (10**12, "implausible"),
    ],
)
def test_an_unreadable_limit_stays_configured_and_says_so(limit: Any, why: str) -> None:
    limits = full()
    limits[1] = api("sell", "Finances", {"sell.finances": rate(limit)})
    found, notes = limits_of(reading(limits))
    assert EbayApi.FINANCES not in found and found[EbayApi.FULFILLMENT] == 120_000
    [note] = notes
    assert note.startswith("finances:") and why in note and "configured quota 15,000" in note
    assert quotas_of(plan(reading(limits)))["finances"] == 15_000


@pytest.mark.parametrize("limit", [0, -5])
def test_a_limit_of_zero_or_less_makes_the_planner_keep_the_configured(limit: int) -> None:
    limits = full()
    limits[1] = api("sell", "Finances", {"sell.finances": rate(limit)})
    report = plan(reading(limits))
    assert quotas_of(report)["finances"] == 15_000
    assert quotas_of(report)["fulfillment"] == 120_000  # the others stay eBay's
    assert any(n.startswith("finances:") and "configured" in n for n in report.notes)


def test_a_missing_api_or_a_window_that_is_not_daily_stays_configured() -> None:
    limits = full()
    del limits[1]  # no Finances at all
    limits[2] = api("TradingAPI", "TradingAPI", {"GetMyeBaySelling": rate(300, window=15)})
    found, notes = limits_of(reading(limits))
    assert EbayApi.FINANCES not in found and EbayApi.TRADING not in found
    assert sorted(n.split(":")[0] for n in notes) == ["finances", "trading"]
    assert all("missing from the getRateLimits reading" in n for n in notes)


@pytest.mark.parametrize(
    "limits", [[], ["junk", {"apiName": 3}, {"apiName": "Finances", "resources": "x"}]]
)
def test_nonsense_reads_as_nothing_and_everything_is_configured(limits: list[Any]) -> None:
    found, notes = limits_of(reading(limits))
    assert found == {} and len(notes) == 8
    report = plan(reading(limits))
    assert report.quota_source == "configured"
    assert quotas_of(report) == {api: quota for api, quota in CONFIGURED}


def test_a_failed_read_or_none_falls_back_entirely() -> None:
    failed = StoredReading(read_at=NOW, ok=False, rate_limits=[], detail="EbayTransientError: 500")
    for stored, expected in (
        (failed, "getRateLimits failed (EbayTransientError: 500)"),
        (None, "no getRateLimits reading yet"),
    ):
        report = plan(stored)
        assert report.quota_source == "configured"
        assert quotas_of(report) == {api: quota for api, quota in CONFIGURED}
        assert report.notes[0].startswith(expected) and "configured quotas" in report.notes[0]


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (reading(full(reset="2025-06-02T19:00:00.000Z")), "a clock is far off"),
        (reading(full(), read_at=NOW - timedelta(hours=48)), "stale"),
    ],
)
def test_a_clock_far_off_or_a_stale_reading_falls_back_entirely(
    stored: StoredReading, why: str
) -> None:
    report = plan(stored)
    assert report.quota_source == "configured"
    assert quotas_of(report) == {api: quota for api, quota in CONFIGURED}
    assert any(why in n and "configured" in n for n in report.notes)
