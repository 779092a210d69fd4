"""Push per account for the operators: the subscriptions at eBay and their state, the last
notification per topic, a counter per family; and which pairs are "live" (their
notifications flow) for the Workers page (docs/adr/0018-push-notifications.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel

from admin_api.dependencies import AccountDep, CurrentUser, NowDep, SessionDep, SettingsDep
from admin_api.push_plan import unavailable_families
from common.db.accounts import AccountRepository
from common.db.push import NotificationRepository
from common.db.push_state import PushStateRepository
from common.push import REST_TOPICS, TRADING_EVENTS, TRADING_TOPIC

router = APIRouter(tags=["push"])


class SubscriptionOut(BaseModel):
    api: str
    topic: str
    family: str | None
    # ENABLED / DISABLED (as eBay last reported), UNAVAILABLE (consent lacks a scope), FAILED.
    status: str
    detail: str | None
    checked_at: datetime
    repairs: int
    repaired_at: datetime | None


class TopicOut(BaseModel):
    topic: str
    count: int
    last_received_at: datetime


class FamilyOut(BaseModel):
    family: str
    count: int
    last_received_at: datetime
    live: bool


class AccountPushOut(BaseModel):
    enabled: bool
    subscriptions: list[SubscriptionOut]
    # "push unavailable for F: reconnect", once per family whose topic the consent lacks.
    unavailable: list[str]
    topics: list[TopicOut]
    families: list[FamilyOut]


class LivePairOut(BaseModel):
    account_id: int
    family: str
    last_received_at: datetime


class LiveOut(BaseModel):
    live_minutes: float
    pairs: list[LivePairOut]


def _family_of(api: str, topic: str) -> str | None:
    if api == "rest" and topic in REST_TOPICS:
        family = REST_TOPICS[topic].family
        return family.value if family is not None else None
    if topic == TRADING_TOPIC:
        return ",".join(sorted({f.value for f in TRADING_EVENTS.values()}))
    return None


@router.get("/api/accounts/{account_id}/push", responses={404: {}})
async def account_push(
    account: AccountDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> AccountPushOut:
    state = PushStateRepository(session)
    rows = await state.for_account(account.id)
    topics = await NotificationRepository(session).counts(account.id)
    families = await state.family_counts(account.id)
    since = now - timedelta(minutes=settings.push.live_minutes)
    return AccountPushOut(
        enabled=settings.push.enabled,
        subscriptions=[
            SubscriptionOut(
                api=r.api,
                topic=r.topic,
                family=_family_of(r.api, r.topic),
                status=r.status,
                detail=r.detail,
                checked_at=r.checked_at,
                repairs=r.repairs,
                repaired_at=r.repaired_at,
            )
            for r in rows
        ],
        unavailable=unavailable_families([(r.status, r.detail) for r in rows]),
        topics=[
            TopicOut(topic=t, count=n, last_received_at=last)
            for t, (n, last) in sorted(topics.items())
        ],
        families=[
            FamilyOut(family=f, count=n, last_received_at=last, live=last >= since)
            for f, (n, last) in sorted(families.items())
        ],
    )


@router.get("/api/push/live")
async def live_pairs(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, now: NowDep
) -> LiveOut:
    """The org's (account, family) pairs with a notification in the last
    ``ADMIN_API_PUSH__LIVE_MINUTES``: the Workers page marks them "live"."""
    accounts = await AccountRepository(session).list_active_for_org(user.org_id)
    minutes = settings.push.live_minutes
    pairs = await PushStateRepository(session).live_pairs(
        [a.id for a in accounts], now - timedelta(minutes=minutes)
    )
    return LiveOut(
        live_minutes=minutes,
        pairs=[
            LivePairOut(account_id=a, family=f, last_received_at=last)
            for (a, f), last in sorted(pairs.items())
        ],
    )
