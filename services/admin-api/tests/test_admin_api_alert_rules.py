"""The alert rules' pure decisions: which conditions hold, and how open alerts change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from admin_api.alerts.rules import (
    AccountFacts,
    Condition,
    Facts,
    PairFacts,
    QuotaFacts,
    RuleKind,
    RuleParams,
    conditions,
    parse_params,
    transitions,
)

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def pair(failures: int = 0, paused_until: datetime | None = None) -> PairFacts:
    return PairFacts(1, "Main", "orders", failures, "HTTP 500", paused_until)


def account(needs_reauth: bool = False, ends: datetime | None = None) -> AccountFacts:
    return AccountFacts(1, "Main", needs_reauth, ends)


def holds(kind: RuleKind, facts: Facts, **params: float) -> set[str]:
    return set(conditions(kind, RuleParams.model_validate(params), facts, NOW))


def test_a_pair_fails_from_its_threshold_of_failures_in_a_row() -> None:
    assert holds(RuleKind.PAIR_FAILING, Facts(pairs=[pair(0)])) == set()
    assert holds(RuleKind.PAIR_FAILING, Facts(pairs=[pair(1)])) == {"pair:1:orders"}
    assert holds(RuleKind.PAIR_FAILING, Facts(pairs=[pair(2)]), min_failures=3) == set()


def test_a_pair_is_paused_only_while_its_pause_lies_ahead() -> None:
    ahead = Facts(pairs=[pair(3, NOW + timedelta(minutes=1))])
    over = Facts(pairs=[pair(3, NOW - timedelta(seconds=1))])
    assert holds(RuleKind.PAIR_PAUSED, ahead) == {"pair:1:orders"}
    assert holds(RuleKind.PAIR_PAUSED, over) == set()


def test_reauth_and_consent_ending_are_about_the_account() -> None:
    assert holds(RuleKind.NEEDS_REAUTH, Facts(accounts=[account(True)])) == {"account:1"}
    assert holds(RuleKind.NEEDS_REAUTH, Facts(accounts=[account(False)])) == set()
    soon = Facts(accounts=[account(ends=NOW + timedelta(days=13))])
    later = Facts(accounts=[account(ends=NOW + timedelta(days=15))])
    assert holds(RuleKind.CONSENT_ENDING, soon) == {"account:1"}
    assert holds(RuleKind.CONSENT_ENDING, later) == set()
    assert holds(RuleKind.CONSENT_ENDING, later, consent_days=30) == {"account:1"}


def test_quota_near_its_limit_from_the_share_used() -> None:
    facts = Facts(quotas=[QuotaFacts("trading", 4000, 5000), QuotaFacts("finances", 10, 15000)])
    assert holds(RuleKind.QUOTA_NEAR_LIMIT, facts) == {"api:trading"}
    assert holds(RuleKind.QUOTA_NEAR_LIMIT, facts, quota_ratio=0.9) == set()


def test_transitions_open_new_close_ended_and_drop_vanished_quietly() -> None:
    holding = {"pair:1:orders": Condition("t", "s"), "pair:2:orders": Condition("t", "s")}
    change = transitions(
        holding,
        open_subjects=["pair:1:orders", "pair:3:orders", "pair:4:orders"],
        existing={"pair:1:orders", "pair:2:orders", "pair:3:orders"},
    )
    assert set(change.opened) == {"pair:2:orders"}  # pair 1 stays open: no second notice
    assert change.recovered == {"pair:3:orders"}
    assert change.vanished == {"pair:4:orders"}


def test_params_refuse_unknown_and_out_of_range_values() -> None:
    with pytest.raises(ValidationError):
        parse_params({"min_failures": 0})
    with pytest.raises(ValidationError):
        parse_params({"quota_ratio": 1.5})
    with pytest.raises(ValidationError):
        parse_params({"surprise": 1})
