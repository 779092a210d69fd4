"""The alert job of the admin API: evaluate every org's rules, then send what is due.

Evaluation reads the state the writer, token service and fetchers already keep (sync_state,
ebay_accounts, ebay_tokens, the call ledger) every ``ADMIN_API_ALERTS__INTERVAL_SECONDS`` and
at once (after a short settle) when a run fails or completes on the bus. Opening and closing
an alert and queuing its notices happen in one transaction, guarded by the alert's row, so
replicas of the admin API never notify twice; notices are then sent from the outbox
(``alert_deliveries``), each claimed with ``FOR UPDATE SKIP LOCKED`` and retried a few times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.alerts.channels import (
    DeliveryError,
    EmailConfig,
    Notice,
    SecretBox,
    WebhookConfig,
    send_email,
    send_webhook,
)
from admin_api.alerts.quota import FetcherQuotaSettings, LedgerQuotas
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
from admin_api.settings import AdminApiSettings, AlertSettings
from common.db.accounts import User
from common.db.alerts import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    AlertRuleChannel,
    AlertState,
    AlertSubscription,
)
from common.messages import WindowCompleted, WindowFailed

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


@dataclass
class Sender:
    """Sends one notice on one channel, secrets opened only for the call."""

    http: httpx.AsyncClient
    box: SecretBox
    timeout: float

    async def send(self, channel: AlertChannel, recipient: str | None, notice: Notice) -> None:
        secret: SecretStr | None = None
        if channel.secret:
            secret = self.box.open(channel.org_id, channel.secret)
        if channel.kind == "email":
            if recipient is None:
                raise DeliveryError("no recipient")
            await send_email(
                EmailConfig.model_validate(channel.config), secret, recipient, notice, self.timeout
            )
        elif channel.kind == "webhook":
            await send_webhook(
                self.http,
                WebhookConfig.model_validate(channel.config),
                secret,
                notice,
                self.timeout,
            )
        else:
            raise DeliveryError(f"unknown channel kind {channel.kind}")


async def dispatch(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    settings: AlertSettings,
    clock: Callable[[], datetime],
) -> int:
    """Send one batch of pending notices; returns how many were sent.

    Each notice is claimed and settled in a transaction of its own, so a slow server holds
    one row lock for at most one send timeout, and a notice is tried once per batch.
    """
    sent = 0
    tried: list[int] = []
    for _ in range(settings.batch_size):
        async with sessions.begin() as session:
            row = (
                await session.execute(
                    select(AlertDelivery, AlertChannel, AlertState)
                    .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
                    .join(AlertState, AlertState.id == AlertDelivery.state_id)
                    .where(AlertDelivery.status == "pending", AlertDelivery.id.not_in(tried))
                    .order_by(AlertDelivery.id)
                    .limit(1)
                    .with_for_update(of=AlertDelivery, skip_locked=True)
                )
            ).first()
            if row is None:
                break
            delivery, channel, state = row
            tried.append(delivery.id)
            rule = await session.get(AlertRule, state.rule_id)
            assert rule is not None
            data = notice_for(rule, state, delivery.event, delivery.body).data
            notice = Notice(delivery.title, delivery.body, data)
            delivery.attempts += 1
            try:
                await sender.send(channel, delivery.recipient, notice)
            except DeliveryError as exc:
                delivery.last_error = str(exc)
                if delivery.attempts >= settings.max_attempts:
                    delivery.status = "failed"
                log.warning(
                    "alert notice %s on channel %s failed (attempt %s): %s",
                    delivery.id,
                    channel.id,
                    delivery.attempts,
                    exc,
                )
                continue
            delivery.status = "sent"
            delivery.sent_at = clock()
            delivery.last_error = None
            sent += 1
    return sent


class AlertJob:
    """Runs evaluation and dispatch in the background of the admin API process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        settings: AlertSettings,
        clock: Callable[[], datetime],
        quotas: QuotaReader = no_quotas,
    ) -> None:
        self._sessions = sessions
        self._sender = sender
        self._settings = settings
        self._clock = clock
        self._quotas = quotas
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """One evaluation of every org with enabled rules, then one batch of sends."""
        async with self._lock:
            now = self._clock()
            async with self._sessions.begin() as session:
                kinds = (
                    await session.execute(
                        select(AlertRule.org_id, AlertRule.kind).where(AlertRule.enabled).distinct()
                    )
                ).all()
                # The ledger is read only when some org watches the quotas.
                wanted = any(kind == RuleKind.QUOTA_NEAR_LIMIT for _, kind in kinds)
                quotas = await self._quotas() if wanted else []
                for org_id in sorted({org_id for org_id, _ in kinds}):
                    await evaluate_org(session, org_id, now, quotas)
            return await dispatch(self._sessions, self._sender, self._settings, self._clock)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("alert evaluation failed; trying again next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.interval_seconds)
            if self._wake.is_set():
                self._wake.clear()
                # Let the writer commit what the event announced before reading it.
                await asyncio.sleep(self._settings.settle_seconds)

    async def subscribe(self, nc: NatsClient) -> list[Subscription]:
        """Run events wake the job early; they are hints only (core NATS, may be lost)."""

        async def on_event(msg: Msg) -> None:
            self.wake()

        return [
            await nc.subscribe(f"{WindowFailed.SUBJECT_PREFIX}.>", cb=on_event),
            await nc.subscribe(f"{WindowCompleted.SUBJECT_PREFIX}.>", cb=on_event),
        ]


@dataclass
class RunningAlerts:
    job: AlertJob
    task: asyncio.Task[None] | None
    subscriptions: list[Subscription]

    async def stop(self) -> None:
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def start_alerts(
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    settings: AdminApiSettings,
    broker: NatsBroker,
    clock: Callable[[], datetime],
) -> RunningAlerts:
    """The job, started in the background unless its interval is 0 (then only called)."""
    sender = Sender(http, SecretBox(settings.jwt_secret), settings.alerts.send_timeout_seconds)
    quotas = LedgerQuotas(broker, FetcherQuotaSettings().call_ledger, clock)
    job = AlertJob(sessions, sender, settings.alerts, clock, quotas)
    if settings.alerts.interval_seconds <= 0:
        return RunningAlerts(job, None, [])
    subscriptions = await job.subscribe(broker.connection)
    return RunningAlerts(job, asyncio.create_task(job.run_forever()), subscriptions)
