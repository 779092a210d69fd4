"""Which quotas the budget plans with (common.quotas): eBay's sound reading, else the configured
quotas, and a note for every fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.ledger import DailyQuotas
from common.quotas import QuotaSource, StoredReading, plan_quotas

# 12:00 UTC on 2025-06-01 is 05:00 Pacific daylight time: the next reset is 07:00 UTC tomorrow.
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RESET = "2025-06-02T07:00:00.000Z"
CONFIGURED = DailyQuotas()


def rate(limit: Any = 5000, count: Any = 10, reset: Any = RESET, window: Any = 86400) -> Any:
    return {"count": count, "limit": limit, "remaining": 0, "reset": reset, "timeWindow": window}


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


def reading(limits: list[Any], read_at: datetime = NOW, ok: bool = True) -> StoredReading:
    return StoredReading(read_at=read_at, ok=ok, rate_limits=limits)


def test_a_sound_reading_gives_ebays_quotas() -> None:
    planned = plan_quotas(reading(full()), CONFIGURED, NOW)
    assert planned.source is QuotaSource.EBAY
    assert planned.notes == []
    assert planned.quotas() == DailyQuotas(
        fulfillment=120_000,
        payment_dispute=260_000,
        finances=20_000,
        inventory=2_000_000,
        trading=6_000,  # the least of the Trading calls the families make
        postorder=5_000,  # the least of the three resources
    )
    assert planned.postorder_resources == {
        "casemanagement": 5_500,
        "inquiry": 5_000,
        "return": 6_000,
    }
    assert planned.resets_at == datetime(2025, 6, 2, 7, tzinfo=UTC)
    assert {a.api: a.used_by_ebay for a in planned.apis}["trading"] == 10


def test_api_names_are_matched_whatever_their_casing() -> None:
    limits = [api("SELL", "FINANCES", {"x": rate(20_001)})]
    planned = plan_quotas(reading(limits), CONFIGURED, NOW)
    assert planned.quotas().finances == 20_001
    assert planned.source is QuotaSource.MIXED


@pytest.mark.parametrize(
    ("limit", "why"),
    [
        (0, "a limit of 0"),
        (-5, "negative"),
        ("5000", "not a number"),
        (None, "missing"),
        (True, "not a number"),
        (10**12, "implausible"),
    ],
)
def test_an_unsound_limit_falls_back_for_that_api_and_says_so(limit: Any, why: str) -> None:
    limits = full()
    limits[1] = api("sell", "Finances", {"sell.finances": rate(limit)})
    planned = plan_quotas(reading(limits), CONFIGURED, NOW)
    assert planned.source is QuotaSource.MIXED
    assert planned.quotas().finances == CONFIGURED.finances
    assert planned.quotas().fulfillment == 120_000  # the others stay eBay's
    [note] = planned.notes
    assert note.startswith("finances:") and why in note and "configured quota 15,000" in note


def test_a_missing_api_or_a_window_that_is_not_daily_falls_back() -> None:
    limits = full()
    del limits[1]  # no Finances at all
    limits[2] = api("TradingAPI", "TradingAPI", {"GetMyeBaySelling": rate(300, window=15)})
    planned = plan_quotas(reading(limits), CONFIGURED, NOW)
    quotas = planned.quotas()
    assert (quotas.finances, quotas.trading) == (CONFIGURED.finances, CONFIGURED.trading)
    assert sorted(n.split(":")[0] for n in planned.notes) == ["finances", "trading"]


@pytest.mark.parametrize(
    "limits", [[], ["junk", {"apiName": 3}, {"apiName": "Finances", "resources": "x"}]]
)
def test_nonsense_reads_as_nothing_and_everything_is_configured(limits: list[Any]) -> None:
    planned = plan_quotas(reading(limits), CONFIGURED, NOW)
    assert planned.source is QuotaSource.CONFIGURED
    assert planned.quotas() == CONFIGURED
    assert len(planned.notes) == len(list(CONFIGURED))


def test_a_failed_read_no_read_and_an_old_read_fall_back_entirely() -> None:
    failed = StoredReading(read_at=NOW, ok=False, rate_limits=[], detail="EbayTransientError: 500")
    cases = {
        "failed (EbayTransientError: 500)": failed,
        "no getRateLimits reading": None,
        "48 h old": reading(full(), read_at=NOW - timedelta(hours=48)),
    }
    for expected, stored in cases.items():
        planned = plan_quotas(stored, CONFIGURED, NOW)
        assert planned.source is QuotaSource.CONFIGURED
        assert planned.quotas() == CONFIGURED
        [note] = planned.notes
        assert expected in note and "configured quotas" in note


def test_a_clock_far_from_ebays_reset_falls_back_entirely() -> None:
    planned = plan_quotas(reading(full(reset="2025-06-02T19:00:00.000Z")), CONFIGURED, NOW)
    assert planned.source is QuotaSource.CONFIGURED
    assert planned.quotas() == CONFIGURED
    [note] = planned.notes
    assert "far from the local clock" in note


def test_a_reading_from_before_the_last_reset_is_not_todays() -> None:
    later = NOW + timedelta(hours=20)  # past 07:00 UTC: the reading's window has ended
    planned = plan_quotas(reading(full()), CONFIGURED, later)
    assert planned.source is QuotaSource.CONFIGURED
    assert "before the last reset" in planned.notes[0]
