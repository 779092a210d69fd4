"""Alert evaluation: read the facts of an org, open and close its alerts, and queue their
notices in the outbox (``alert_deliveries``), all in the caller's transaction, guarded by the
alert's row so replicas of the admin API never notify twice."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.alerts.channels import (
    Notice,
)
from admin_api.alerts.rules import (
    AccountFacts,
    Facts,
    PairFacts,
    QuotaFacts,
    RuleKind,
    conditions,
    parse_params,
    transitions,
)
from common.db.accounts import User
from common.db.alerts import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    AlertRuleChannel,
    AlertState,
    AlertSubscription,
)

log = logging.getLogger(__name__)

QuotaReader = Callable[[], Awaitable[list[QuotaFacts]]]


async def no_quotas() -> list[QuotaFacts]:
    return []


async def load_facts(session: AsyncSession, org_id: int, quotas: list[QuotaFacts]) -> Facts:
    pairs = await session.execute(
        text(
            """
            SELECT a.id, a.house_name, s.family, s.consecutive_failures, s.last_error,
                   s.paused_until
            FROM sync_state s JOIN ebay_accounts a ON a.id = s.account_id
            WHERE a.org_id = :org_id AND a.active AND s.enabled
            ORDER BY a.id, s.family
            """
        ),
        {"org_id": org_id},
    )
    accounts = await session.execute(
        text(
            """
            SELECT a.id, a.house_name, a.needs_reauth, t.refresh_token_expires_at
            FROM ebay_accounts a LEFT JOIN ebay_tokens t ON t.account_id = a.id
            WHERE a.org_id = :org_id AND a.active
            ORDER BY a.id
            """
        ),
        {"org_id": org_id},
    )
    return Facts(
        pairs=[PairFacts(r[0], r[1], r[2], r[3], r[4], r[5]) for r in pairs],
        accounts=[AccountFacts(r[0], r[1], r[2], r[3]) for r in accounts],
        quotas=quotas,
    )


def notice_for(rule: AlertRule, state: AlertState, event: str, detail: str) -> Notice:
    title = state.summary if event == "opened" else f"Recovered: {state.summary}"
    return Notice(
        title=title,
        body=f"{detail}\n\nRule: {rule.name} ({rule.kind})\n"
        f"Since: {state.opened_at:%Y-%m-%d %H:%M} UTC",
        data={
            "event": event,
            "org_id": rule.org_id,
            "rule_id": rule.id,
            "rule": rule.kind,
            "rule_name": rule.name,
            "subject": state.subject,
            "opened_at": state.opened_at.isoformat(),
            "closed_at": state.closed_at.isoformat() if state.closed_at else None,
        },
    )


async def recipients(session: AsyncSession, rule: AlertRule) -> list[str]:
    """The emails of the org's active users who have not opted out of the rule."""
    result = await session.scalars(
        select(User.email)
        .outerjoin(
            AlertSubscription,
            (AlertSubscription.user_id == User.id) & (AlertSubscription.rule_id == rule.id),
        )
        .where(
            User.org_id == rule.org_id,
            User.active,
            AlertSubscription.subscribed.is_not(False),
        )
        .order_by(User.id)
    )
    return list(result.all())


async def queue_notices(
    session: AsyncSession, rule: AlertRule, state: AlertState, event: str, detail: str
) -> int:
    channels = await session.scalars(
        select(AlertChannel)
        .join(AlertRuleChannel, AlertRuleChannel.channel_id == AlertChannel.id)
        .where(AlertRuleChannel.rule_id == rule.id, AlertChannel.enabled)
        .order_by(AlertChannel.id)
    )
    notice = notice_for(rule, state, event, detail)
    emails: list[str] | None = None
    queued = 0
    for channel in channels.all():
        targets: Sequence[str | None] = [None]
        if channel.kind == "email":
            emails = emails if emails is not None else await recipients(session, rule)
            targets = emails
        for to in targets:
            session.add(
                AlertDelivery(
                    state_id=state.id,
                    channel_id=channel.id,
                    event=event,
                    recipient=to,
                    title=notice.title,
                    body=notice.body,
                    status="pending",
                    attempts=0,
                )
            )
            queued += 1
    return queued


async def evaluate_org(
    session: AsyncSession, org_id: int, now: datetime, quotas: list[QuotaFacts]
) -> int:
    """Open and close the org's alerts as its facts say; returns how many notices it queued."""
    facts = await load_facts(session, org_id, quotas)
    existing = facts.subjects()
    rules = await session.scalars(
        select(AlertRule)
        .where(AlertRule.org_id == org_id, AlertRule.enabled)
        .order_by(AlertRule.id)
    )
    queued = 0
    for rule in rules.all():
        holding = conditions(RuleKind(rule.kind), parse_params(rule.params), facts, now)
        open_subjects = await session.scalars(
            select(AlertState.subject).where(
                AlertState.rule_id == rule.id, AlertState.status == "open"
            )
        )
        change = transitions(holding, open_subjects.all(), existing)
        for subject, condition in change.opened.items():
            state = await _open(session, rule, subject, condition.title, now)
            if state is not None:  # another replica did not open it first
                log.info("alert opened: rule %s, %s", rule.id, subject)
                queued += await queue_notices(session, rule, state, "opened", condition.summary)
        for subject in change.recovered | change.vanished:
            state = await _close(session, rule.id, subject, now)
            if state is None:
                continue
            log.info("alert closed: rule %s, %s", rule.id, subject)
            if subject in change.recovered and rule.notify_recovered:
                queued += await queue_notices(
                    session, rule, state, "recovered", "The condition no longer holds."
                )
    return queued


async def _open(
    session: AsyncSession, rule: AlertRule, subject: str, title: str, now: datetime
) -> AlertState | None:
    """Open the (rule, subject) alert unless it is open already; the row is the guard."""
    state_id = await session.scalar(
        text(
            """
            INSERT INTO alert_states (org_id, rule_id, subject, status, summary, opened_at,
                                      updated_at)
            VALUES (:org_id, :rule_id, :subject, 'open', :summary, :now, :now)
            ON CONFLICT (rule_id, subject) DO UPDATE SET
                status = 'open', summary = EXCLUDED.summary, opened_at = EXCLUDED.opened_at,
                closed_at = NULL, updated_at = EXCLUDED.updated_at
            WHERE alert_states.status = 'closed'
            RETURNING id
            """
        ),
        {
            "org_id": rule.org_id,
            "rule_id": rule.id,
            "subject": subject,
            "summary": title,
            "now": now,
        },
    )
    if state_id is None:
        return None
    return await session.get(AlertState, state_id, populate_existing=True)


async def _close(
    session: AsyncSession, rule_id: int, subject: str, now: datetime
) -> AlertState | None:
    state_id = await session.scalar(
        text(
            "UPDATE alert_states SET status = 'closed', closed_at = :now, updated_at = :now "
            "WHERE rule_id = :rule_id AND subject = :subject AND status = 'open' RETURNING id"
        ),
        {"rule_id": rule_id, "subject": subject, "now": now},
    )
    if state_id is None:
        return None
    return await session.get(AlertState, state_id, populate_existing=True)
