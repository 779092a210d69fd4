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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.alerts.channels import (
    SecretBox,
)
from admin_api.alerts.delivery import Sender, dispatch
from admin_api.alerts.evaluation import QuotaReader, evaluate_org, no_quotas
from admin_api.alerts.quota import FetcherQuotaSettings, LedgerQuotas
from admin_api.alerts.rules import (
    RuleKind,
)
from admin_api.settings import AdminApiSettings, AlertSettings
from common.db.alerts import (
    AlertRule,
)
from common.messages import WindowCompleted, WindowFailed
from common.tasks import cancel_and_wait

log = logging.getLogger(__name__)


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
        await cancel_and_wait(self.task)


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
