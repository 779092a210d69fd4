"""The push subscriptions ebaysync keeps at eBay, as last seen: one row per (account or the
application, api, topic), and the application's destination (docs/adr/0018)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.push import PushDestination, PushSubscription, ReceivedNotification


class PushStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def destination(self, application: str) -> PushDestination | None:
        found: PushDestination | None = await self._session.scalar(
            select(PushDestination).where(PushDestination.application == application)
        )
        return found

    async def save_destination(
        self,
        application: str,
        endpoint: str,
        destination_id: str | None,
        status: str,
        detail: str | None,
        at: datetime,
    ) -> None:
        values = {
            "endpoint": endpoint,
            "destination_id": destination_id,
            "status": status,
            "detail": detail,
            "checked_at": at,
        }
        await self._session.execute(
            insert(PushDestination)
            .values(application=application, **values)
            .on_conflict_do_update(index_elements=["application"], set_=values)
        )

    async def subscriptions(self, application: str) -> Sequence[PushSubscription]:
        rows = await self._session.scalars(
            select(PushSubscription)
            .where(PushSubscription.application == application)
            .order_by(PushSubscription.id)
        )
        return rows.all()

    async def save(
        self,
        *,
        account_id: int | None,
        application: str,
        api: str,
        topic: str,
        ebay_subscription_id: str | None,
        destination_id: str | None,
        status: str,
        detail: str | None,
        at: datetime,
        repaired: bool = False,
    ) -> None:
        values: dict[str, Any] = {
            "ebay_subscription_id": ebay_subscription_id,
            "destination_id": destination_id,
            "status": status,
            "detail": detail,
            "checked_at": at,
        }
        update = dict(values)
        if repaired:
            update["repairs"] = PushSubscription.repairs + 1
            update["repaired_at"] = at
        await self._session.execute(
            insert(PushSubscription)
            .values(account_id=account_id, application=application, api=api, topic=topic, **values)
            .on_conflict_do_update(constraint="uq_push_subscriptions_account_id", set_=update)
        )

    async def remove(self, row_id: int) -> None:
        await self._session.execute(delete(PushSubscription).where(PushSubscription.id == row_id))

    async def for_account(self, account_id: int) -> Sequence[PushSubscription]:
        rows = await self._session.scalars(
            select(PushSubscription)
            .where(PushSubscription.account_id == account_id)
            .order_by(PushSubscription.api, PushSubscription.topic)
        )
        return rows.all()

    async def family_counts(self, account_id: int) -> dict[str, tuple[int, datetime]]:
        """Per family: how many notifications arrived, and the last one's arrival."""
        rows = await self._session.execute(
            select(
                ReceivedNotification.family,
                func.count(),
                func.max(ReceivedNotification.received_at),
            )
            .where(
                ReceivedNotification.account_id == account_id,
                ReceivedNotification.family.is_not(None),
            )
            .group_by(ReceivedNotification.family)
        )
        return {str(f): (int(n), last) for f, n, last in rows.all()}

    async def live_pairs(
        self, account_ids: Sequence[int], since: datetime
    ) -> dict[tuple[int, str], datetime]:
        """The (account, family) pairs with a notification received since ``since``, and the
        last one's arrival: their notifications flow."""
        if not account_ids:
            return {}
        rows = await self._session.execute(
            select(
                ReceivedNotification.account_id,
                ReceivedNotification.family,
                func.max(ReceivedNotification.received_at),
            )
            .where(
                ReceivedNotification.account_id.in_(account_ids),
                ReceivedNotification.family.is_not(None),
                ReceivedNotification.received_at >= since,
            )
            .group_by(ReceivedNotification.account_id, ReceivedNotification.family)
        )
        return {(int(a), str(f)): last for a, f, last in rows.all() if a is not None}
