"""Notifications to people (docs/adr/0012-notifications.md): per org, channels (email over
SMTP, a signed webhook), rules, each user's opt-out per rule, the open/closed state of every
(rule, subject), and the outbox of notices to send.

Written only by the admin API (its alert job and its routes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, created_at_column


class AlertChannel(Base):
    __tablename__ = "alert_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str]
    kind: Mapped[str]  # email | webhook
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    # Everything but the secret (SMTP host, port, TLS mode, user, from address; webhook URL).
    config: Mapped[dict[str, Any]]
    # The SMTP password or the webhook's HMAC key, encrypted (admin_api.alerts.channels).
    secret: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime]


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str]
    kind: Mapped[
        str
    ]  # pair_failing | pair_paused | needs_reauth | consent_ending | quota_near_limit
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    # Also send one notice when the condition ends.
    notify_recovered: Mapped[bool] = mapped_column(server_default=text("true"))
    params: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime]


class AlertRuleChannel(Base):
    __tablename__ = "alert_rule_channels"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("alert_channels.id", ondelete="CASCADE"), primary_key=True
    )


class AlertSubscription(Base):
    """A user's own choice for one rule; without a row the user receives the rule's emails."""

    __tablename__ = "alert_subscriptions"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    subscribed: Mapped[bool]
    updated_at: Mapped[datetime]


class AlertState(Base):
    """One condition of one rule about one subject ("pair:3:orders", "account:3", "api:trading"):
    open while it holds, closed once it recovers. One row per (rule, subject), so a failing pair
    opens it once however many runs fail."""

    __tablename__ = "alert_states"
    __table_args__ = (UniqueConstraint("rule_id", "subject", name="uq_alert_states_rule_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    subject: Mapped[str]
    status: Mapped[str]  # open | closed
    summary: Mapped[str]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class AlertDelivery(Base):
    """One notice to send on one channel (to one recipient for email): the outbox."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_pending", "id", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    state_id: Mapped[int] = mapped_column(
        ForeignKey("alert_states.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"))
    event: Mapped[str]  # opened | recovered
    # The email address; None for a webhook.
    recipient: Mapped[str | None]
    title: Mapped[str]
    body: Mapped[str]
    status: Mapped[str]  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None]
