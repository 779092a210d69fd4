"""When a pair may be repaired and where its cursor goes: pure rules (common.repair)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common.db.accounts import EbayAccount
from common.db.orders import LINE_ITEMS, ORDERS
from common.db.sync import SyncState
from common.families import Family
from common.repair import repair_refusal, repair_start, versioned_specs
from common.settings import WindowSettings

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ACTIVE = EbayAccount(id=7, active=True, needs_reauth=False)


def refusal(**overrides: object) -> str | None:
    values: dict[str, object] = {
        "account": ACTIVE,
        "family": Family.ORDERS,
        "state": None,
        "since": None,
        "now": NOW,
        "paused": False,
    }
    values.update(overrides)
    return repair_refusal(**values)  # type: ignore[arg-type]


def test_a_healthy_pair_may_be_repaired() -> None:
    assert refusal() is None
    assert refusal(state=SyncState(enabled=True), since=NOW) is None


def test_run_nows_rules_apply() -> None:
    assert refusal(account=EbayAccount(id=7, active=False, needs_reauth=False)) == (
        "account deactivated"
    )
    assert "reconnect" in (refusal(account=EbayAccount(id=7, active=True, needs_reauth=True)) or "")
    assert "disabled" in (refusal(state=SyncState(enabled=False)) or "")
    assert "pause is on" in (refusal(paused=True) or "")


def test_a_start_in_the_future_is_refused() -> None:
    assert "lies in the future" in (refusal(since=NOW + timedelta(seconds=1)) or "")


def test_the_start_is_since_or_the_backfill_start() -> None:
    policy = WindowSettings(initial_backfill_days=30).policy(Family.ORDERS)
    assert repair_start(None, NOW, policy) == NOW - timedelta(days=30)
    assert repair_start(NOW - timedelta(days=2), NOW, policy) == NOW - timedelta(days=2)


def test_orders_and_their_line_items_have_versions_payouts_none() -> None:
    assert versioned_specs(Family.ORDERS) == (ORDERS, LINE_ITEMS)
    assert versioned_specs(Family.FINANCES) == ()
