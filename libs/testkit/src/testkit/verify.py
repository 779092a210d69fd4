"""The mirror of an account compared with the sandbox's ground truth (later: `ebaysync verify`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.events import EbayEvent
from common.db.orders import EbayOrder

Orders = dict[str, dict[str, Any]]


async def source_orders(
    sandbox: httpx.AsyncClient, username: str, modified_from: datetime, modified_to: datetime
) -> Orders:
    """The seller's orders as eBay (the sandbox) holds them, by last-modified time."""
    response = await sandbox.get(
        f"/sandbox/sellers/{username}/orders",
        params={"modified_from": modified_from.isoformat(), "modified_to": modified_to.isoformat()},
    )
    response.raise_for_status()
    return {order["orderId"]: order for order in response.json()["orders"]}


async def mirrored_orders(sessions: async_sessionmaker[AsyncSession], account_id: int) -> Orders:
    """The account's orders as the mirror holds them (their raw payloads)."""
    async with sessions() as session:
        rows = await session.scalars(select(EbayOrder).where(EbayOrder.account_id == account_id))
        return {row.order_id: row.payload for row in rows}


async def event_count(sessions: async_sessionmaker[AsyncSession], account_id: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(EbayEvent).where(EbayEvent.account_id == account_id)
        )
    return int(count or 0)


@dataclass
class MirrorDifferences:
    """How an account's mirror differs from the source: empty when they are the same."""

    missing: list[str]
    unexpected: list[str]
    changed: list[str]
    duplicate_events: int

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.unexpected) + len(self.changed) + self.duplicate_events


async def verify_orders(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: httpx.AsyncClient,
    account_id: int,
    username: str,
    modified_from: datetime,
    modified_to: datetime,
) -> MirrorDifferences:
    """Compare the orders of an account with eBay's (here the sandbox's) for a window.

    A frozen source was written once per order, so each order has exactly one history event.
    """
    source = await source_orders(sandbox, username, modified_from, modified_to)
    mirror = await mirrored_orders(sessions, account_id)
    return MirrorDifferences(
        missing=sorted(source.keys() - mirror.keys()),
        unexpected=sorted(mirror.keys() - source.keys()),
        changed=sorted(k for k in source.keys() & mirror.keys() if source[k] != mirror[k]),
        duplicate_events=await event_count(sessions, account_id) - len(source),
    )
