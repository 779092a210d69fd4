"""Notifications to people: channels and rules (admin), each user's own opt-out per rule, and
the alerts open now. Secrets go in, never out: a channel says only whether its secret is set."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.alerts.channels import (
    DeliveryError,
    EmailConfig,
    Notice,
    SecretBox,
    WebhookConfig,
)
from admin_api.alerts.delivery import Sender
from admin_api.alerts.models import (
    AlertOut,
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    EmailIn,
    RuleIn,
    RuleOut,
    RulePatch,
    SubscriptionIn,
    TestOut,
    WebhookIn,
)
from admin_api.dependencies import MAX_ID, AdminUser, ContextDep, CurrentUser, NowDep, SessionDep
from common.db.alerts import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    AlertRuleChannel,
    AlertState,
    AlertSubscription,
)

router = APIRouter(prefix="/api/notifications", tags=["notifications"])
ChannelId = Annotated[int, Path(ge=1, le=MAX_ID)]
RuleId = Annotated[int, Path(ge=1, le=MAX_ID)]

# --- channels ------------------------------------------------------------------------------


def _split(settings: EmailIn | WebhookIn) -> tuple[dict[str, Any], SecretStr | None]:
    if isinstance(settings, EmailIn):
        config = EmailConfig.model_validate(settings.model_dump(exclude={"kind", "password"}))
        return config.model_dump(), settings.password
    hook = WebhookConfig.model_validate(settings.model_dump(exclude={"kind", "secret"}))
    return hook.model_dump(), settings.secret


def _channel_out(channel: AlertChannel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        enabled=channel.enabled,
        settings=dict(channel.config),
        secret_set=bool(channel.secret),
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


_Owned = TypeVar("_Owned", AlertChannel, AlertRule)


async def _owned(
    session: AsyncSession, model: type[_Owned], org_id: int, row_id: int, noun: str
) -> _Owned:
    """The org's row, read afresh; another org's is not found either (404)."""
    row = await session.scalar(
        select(model)
        .where(model.id == row_id, model.org_id == org_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{noun} {row_id} not found")
    return row


async def _channel(session: AsyncSession, org_id: int, channel_id: int) -> AlertChannel:
    return await _owned(session, AlertChannel, org_id, channel_id, "channel")


@router.get("/channels")
async def list_channels(admin: AdminUser, session: SessionDep) -> list[ChannelOut]:
    found = await session.scalars(
        select(AlertChannel).where(AlertChannel.org_id == admin.org_id).order_by(AlertChannel.id)
    )
    return [_channel_out(c) for c in found.all()]


@router.post("/channels", status_code=status.HTTP_201_CREATED)
async def create_channel(
    body: ChannelIn, admin: AdminUser, session: SessionDep, now: NowDep, context: ContextDep
) -> ChannelOut:
    config, secret = _split(body.settings)
    box = SecretBox(context.settings.jwt_secret)
    channel = AlertChannel(
        org_id=admin.org_id,
        name=body.name.strip(),
        kind=body.settings.kind,
        enabled=body.enabled,
        config=config,
        secret=box.seal(admin.org_id, secret) if secret and secret.get_secret_value() else None,
        updated_at=now,
    )
    session.add(channel)
    await session.flush()
    await session.refresh(channel)
    return _channel_out(channel)


@router.get("/channels/{channel_id}", responses={404: {}})
async def get_channel(channel_id: ChannelId, admin: AdminUser, session: SessionDep) -> ChannelOut:
    return _channel_out(await _channel(session, admin.org_id, channel_id))


@router.patch("/channels/{channel_id}", responses={404: {}, 422: {}})
async def update_channel(
    channel_id: ChannelId,
    body: ChannelPatch,
    admin: AdminUser,
    session: SessionDep,
    now: NowDep,
    context: ContextDep,
) -> ChannelOut:
    """Change a channel; settings replace the stored ones, except that an omitted password
    or secret keeps the stored one (send "" to remove it)."""
    channel = await _channel(session, admin.org_id, channel_id)
    if body.name is not None:
        channel.name = body.name.strip()
    if body.enabled is not None:
        channel.enabled = body.enabled
    if body.settings is not None:
        if body.settings.kind != channel.kind:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "a channel's kind cannot change"
            )
        config, secret = _split(body.settings)
        channel.config = config
        if secret is not None:
            value = secret.get_secret_value()
            box = SecretBox(context.settings.jwt_secret)
            channel.secret = box.seal(admin.org_id, secret) if value else None
    channel.updated_at = now
    await session.flush()
    await session.refresh(channel)
    return _channel_out(channel)


@router.delete(
    "/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}}
)
async def delete_channel(channel_id: ChannelId, admin: AdminUser, session: SessionDep) -> None:
    channel = await _channel(session, admin.org_id, channel_id)
    await session.delete(channel)


@router.post("/channels/{channel_id}/test", responses={404: {}})
async def test_channel(
    channel_id: ChannelId, admin: AdminUser, session: SessionDep, now: NowDep, context: ContextDep
) -> TestOut:
    """Send a test notice now: an email goes to you, a webhook to its URL."""
    channel = await _channel(session, admin.org_id, channel_id)
    sender = Sender(
        context.http,
        SecretBox(context.settings.jwt_secret),
        context.settings.alerts.send_timeout_seconds,
    )
    notice = Notice(
        title=f"Test of channel {channel.name}",
        body=f"A test notice from ebaysync, sent by {admin.email} at {now:%Y-%m-%d %H:%M} UTC.",
        data={"event": "test", "org_id": admin.org_id, "channel_id": channel.id},
    )
    try:
        await sender.send(channel, admin.email, notice)
    except DeliveryError as exc:
        return TestOut(delivered=False, error=str(exc))
    return TestOut(delivered=True, error=None)


# --- rules ---------------------------------------------------------------------------------


async def _rule(session: AsyncSession, org_id: int, rule_id: int) -> AlertRule:
    return await _owned(session, AlertRule, org_id, rule_id, "rule")


async def _rule_out(session: AsyncSession, rule: AlertRule, user_id: int) -> RuleOut:
    channels = await session.scalars(
        select(AlertRuleChannel.channel_id)
        .where(AlertRuleChannel.rule_id == rule.id)
        .order_by(AlertRuleChannel.channel_id)
    )
    subscribed = await session.scalar(
        select(AlertSubscription.subscribed).where(
            AlertSubscription.rule_id == rule.id, AlertSubscription.user_id == user_id
        )
    )
    return RuleOut(
        id=rule.id,
        name=rule.name,
        kind=rule.kind,
        enabled=rule.enabled,
        notify_recovered=rule.notify_recovered,
        params=dict(rule.params),
        channel_ids=list(channels.all()),
        subscribed=subscribed is not False,
    )


async def _set_channels(
    session: AsyncSession, org_id: int, rule_id: int, channel_ids: list[int]
) -> None:
    wanted = set(channel_ids)
    mine = set(
        (
            await session.scalars(
                select(AlertChannel.id).where(
                    AlertChannel.org_id == org_id, AlertChannel.id.in_(wanted)
                )
            )
        ).all()
    )
    if missing := wanted - mine:
        # Another org's channel does not exist for this org either.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no channels {sorted(missing)}")
    await session.execute(delete(AlertRuleChannel).where(AlertRuleChannel.rule_id == rule_id))
    session.add_all(AlertRuleChannel(rule_id=rule_id, channel_id=c) for c in sorted(wanted))


@router.get("/rules")
async def list_rules(user: CurrentUser, session: SessionDep) -> list[RuleOut]:
    """The org's rules (everyone sees them, to choose their own toggle)."""
    rules = await session.scalars(
        select(AlertRule).where(AlertRule.org_id == user.org_id).order_by(AlertRule.id)
    )
    return [await _rule_out(session, r, user.id) for r in rules.all()]


@router.post("/rules", status_code=status.HTTP_201_CREATED, responses={422: {}})
async def create_rule(body: RuleIn, admin: AdminUser, session: SessionDep, now: NowDep) -> RuleOut:
    rule = AlertRule(
        org_id=admin.org_id,
        name=body.name.strip(),
        kind=str(body.kind),
        enabled=body.enabled,
        notify_recovered=body.notify_recovered,
        params=body.params.model_dump(),
        updated_at=now,
    )
    session.add(rule)
    await session.flush()
    await _set_channels(session, admin.org_id, rule.id, body.channel_ids)
    return await _rule_out(session, rule, admin.id)


@router.get("/rules/{rule_id}", responses={404: {}})
async def get_rule(rule_id: RuleId, user: CurrentUser, session: SessionDep) -> RuleOut:
    return await _rule_out(session, await _rule(session, user.org_id, rule_id), user.id)


@router.patch("/rules/{rule_id}", responses={404: {}, 422: {}})
async def update_rule(
    rule_id: RuleId, body: RulePatch, admin: AdminUser, session: SessionDep, now: NowDep
) -> RuleOut:
    rule = await _rule(session, admin.org_id, rule_id)
    if body.name is not None:
        rule.name = body.name.strip()
    if body.enabled is not None:
        rule.enabled = body.enabled
    if body.notify_recovered is not None:
        rule.notify_recovered = body.notify_recovered
    if body.params is not None:
        rule.params = body.params.model_dump()
    if body.channel_ids is not None:
        await _set_channels(session, admin.org_id, rule.id, body.channel_ids)
    rule.updated_at = now
    return await _rule_out(session, rule, admin.id)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}})
async def delete_rule(rule_id: RuleId, admin: AdminUser, session: SessionDep) -> None:
    rule = await _rule(session, admin.org_id, rule_id)
    await session.delete(rule)


@router.put("/rules/{rule_id}/subscription", responses={404: {}})
async def set_subscription(
    rule_id: RuleId, body: SubscriptionIn, user: CurrentUser, session: SessionDep, now: NowDep
) -> RuleOut:
    """Your own toggle: whether this rule's emails reach you (everyone starts subscribed)."""
    rule = await _rule(session, user.org_id, rule_id)
    existing = await session.get(AlertSubscription, (rule.id, user.id))
    if existing is None:
        session.add(
            AlertSubscription(
                rule_id=rule.id, user_id=user.id, subscribed=body.subscribed, updated_at=now
            )
        )
    else:
        existing.subscribed = body.subscribed
        existing.updated_at = now
    return await _rule_out(session, rule, user.id)


# --- alerts --------------------------------------------------------------------------------


@router.get("/alerts")
async def list_alerts(
    user: CurrentUser, session: SessionDep, state: Literal["open", "all"] = "open"
) -> list[AlertOut]:
    """The org's alerts, newest first: open ones, or the latest 200 of all."""
    query = (
        select(AlertState, AlertRule.name)
        .join(AlertRule, AlertRule.id == AlertState.rule_id)
        .where(AlertState.org_id == user.org_id)
        .order_by(AlertState.opened_at.desc(), AlertState.id.desc())
        .limit(200)
    )
    if state == "open":
        query = query.where(AlertState.status == "open")
    rows = (await session.execute(query)).all()
    counts: dict[tuple[int, str], int] = {}
    if rows:
        tallies = await session.execute(
            select(AlertDelivery.state_id, AlertDelivery.status, AlertDelivery.id).where(
                AlertDelivery.state_id.in_([s.id for s, _ in rows])
            )
        )
        for state_id, delivery_status, _ in tallies.all():
            counts[(state_id, delivery_status)] = counts.get((state_id, delivery_status), 0) + 1
    return [
        AlertOut(
            id=s.id,
            rule_id=s.rule_id,
            rule_name=name,
            subject=s.subject,
            status=s.status,
            summary=s.summary,
            opened_at=s.opened_at,
            closed_at=s.closed_at,
            notices_sent=counts.get((s.id, "sent"), 0),
            notices_pending=counts.get((s.id, "pending"), 0),
            notices_failed=counts.get((s.id, "failed"), 0),
        )
        for s, name in rows
    ]
