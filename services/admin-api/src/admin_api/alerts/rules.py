"""Which conditions hold now, and how the open alerts change: pure decisions, no I/O.

A rule is level-triggered: every evaluation lists the subjects its condition holds for, and
:func:`transitions` compares them with the alerts already open. So a pair that fails on run
after run keeps one open alert (one notice), and a lost run event costs nothing: the next
evaluation reads the same state from the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RuleKind(StrEnum):
    PAIR_FAILING = "pair_failing"
    PAIR_PAUSED = "pair_paused"
    NEEDS_REAUTH = "needs_reauth"
    CONSENT_ENDING = "consent_ending"
    QUOTA_NEAR_LIMIT = "quota_near_limit"


class RuleParams(BaseModel):
    """Thresholds of a rule; each kind reads only its own."""

    model_config = ConfigDict(extra="forbid")

    # pair_failing: failures in a row (failed fetch attempts and dead-lettered runs, as the
    # writer counts them for the breaker) from which the pair counts as failing.
    min_failures: int = Field(default=1, ge=1)
    # consent_ending: the seller's consent (refresh token) ends within this many days.
    consent_days: float = Field(default=14.0, gt=0)
    # quota_near_limit: this share of an eBay API's daily quota is used.
    quota_ratio: float = Field(default=0.8, gt=0, le=1)


@dataclass(frozen=True)
class PairFacts:
    account_id: int
    house_name: str
    family: str
    consecutive_failures: int
    last_error: str | None
    paused_until: datetime | None


@dataclass(frozen=True)
class AccountFacts:
    account_id: int
    house_name: str
    needs_reauth: bool
    consent_ends_at: datetime | None


@dataclass(frozen=True)
class QuotaFacts:
    api: str
    used: int
    quota: int


@dataclass(frozen=True)
class Facts:
    """What one org's rules are evaluated on, read at one moment."""

    pairs: list[PairFacts] = field(default_factory=list)
    accounts: list[AccountFacts] = field(default_factory=list)
    quotas: list[QuotaFacts] = field(default_factory=list)

    def subjects(self) -> set[str]:
        """Every subject that exists now; an open alert about any other one (a deactivated
        account) is closed without a recovery notice."""
        found = {pair_subject(p.account_id, p.family) for p in self.pairs}
        found |= {account_subject(a.account_id) for a in self.accounts}
        return found | {f"api:{q.api}" for q in self.quotas}


def pair_subject(account_id: int, family: str) -> str:
    return f"pair:{account_id}:{family}"


def account_subject(account_id: int) -> str:
    return f"account:{account_id}"


@dataclass(frozen=True)
class Condition:
    title: str
    summary: str


def conditions(
    kind: RuleKind, params: RuleParams, facts: Facts, now: datetime
) -> dict[str, Condition]:
    """The subjects the rule's condition holds for now, each with what to tell people."""
    found: dict[str, Condition] = {}
    if kind is RuleKind.PAIR_FAILING:
        for p in facts.pairs:
            if p.consecutive_failures >= params.min_failures:
                found[pair_subject(p.account_id, p.family)] = Condition(
                    f"{p.house_name} {p.family} is failing",
                    f"{p.consecutive_failures} failure(s) in a row; last error: "
                    f"{p.last_error or 'unknown'}",
                )
    elif kind is RuleKind.PAIR_PAUSED:
        for p in facts.pairs:
            if p.paused_until is not None and p.paused_until > now:
                found[pair_subject(p.account_id, p.family)] = Condition(
                    f"{p.house_name} {p.family} is paused by the circuit breaker",
                    f"paused until {p.paused_until:%Y-%m-%d %H:%M} UTC after "
                    f"{p.consecutive_failures} failures in a row; last error: "
                    f"{p.last_error or 'unknown'}",
                )
    elif kind is RuleKind.NEEDS_REAUTH:
        for a in facts.accounts:
            if a.needs_reauth:
                found[account_subject(a.account_id)] = Condition(
                    f"{a.house_name} must be reconnected",
                    "eBay refused the refresh token: the seller must consent again "
                    "(Reconnect on the account page); its workers are stopped until then",
                )
    elif kind is RuleKind.CONSENT_ENDING:
        horizon = now + timedelta(days=params.consent_days)
        for a in facts.accounts:
            if a.consent_ends_at is not None and a.consent_ends_at <= horizon:
                found[account_subject(a.account_id)] = Condition(
                    f"{a.house_name}'s eBay consent ends soon",
                    f"the seller's consent ends {a.consent_ends_at:%Y-%m-%d %H:%M} UTC: "
                    "reconnect the account before then",
                )
    elif kind is RuleKind.QUOTA_NEAR_LIMIT:
        for q in facts.quotas:
            if q.quota > 0 and q.used >= params.quota_ratio * q.quota:
                found[f"api:{q.api}"] = Condition(
                    f"eBay {q.api} API quota near its limit",
                    f"{q.used} of {q.quota} daily calls used ({100 * q.used / q.quota:.0f} %); "
                    "the quota resets at midnight US/Pacific",
                )
    return found


@dataclass(frozen=True)
class Transitions:
    opened: dict[str, Condition]
    # Recovered: the condition ended and the subject still exists.
    recovered: set[str]
    # The subject is gone (account deactivated): closed without a notice.
    vanished: set[str]


def transitions(
    holding: Mapping[str, Condition], open_subjects: Iterable[str], existing: set[str]
) -> Transitions:
    """How one rule's open alerts change: newly holding ones open, ended ones close."""
    already = set(open_subjects)
    ended = already - holding.keys()
    return Transitions(
        opened={s: c for s, c in holding.items() if s not in already},
        recovered={s for s in ended if s in existing},
        vanished={s for s in ended if s not in existing},
    )


def parse_params(raw: Mapping[str, Any]) -> RuleParams:
    return RuleParams.model_validate(dict(raw))
