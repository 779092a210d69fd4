"""Alert delivery: send the outbox's pending notices, each claimed with ``FOR UPDATE SKIP
LOCKED`` in a transaction of its own and retried a few times."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from pydantic import SecretStr
from sqlalchemy import select
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
from admin_api.alerts.evaluation import notice_for
from admin_api.settings import AlertSettings
from common.db.alerts import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    AlertState,
)

log = logging.getLogger(__name__)


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
