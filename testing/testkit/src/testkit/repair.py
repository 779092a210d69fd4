"""A pair frozen by a forged page as issue 16 found it, for the repair tests (CLI and API).

The damage is done through :class:`writer.service.PageWriter` directly, as the writer did
before it bounded dates: the cursor at 2099, an order at version 2098 with a total of 0.01.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.orders import EbayOrder
from common.db.sync import SyncRepository
from common.families import Family
from common.messages import PageBatch, SyncWindow
from common.streams import WINDOWS_STREAM
from testkit.ebay_samples import make_order
from testkit.pages import single_page
from writer.service import PageWriter

FORGED_CURSOR = datetime(2099, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FrozenPair:
    account_id: int
    order_id: str
    genuine_modified: datetime


def _writer(sessions: async_sessionmaker[AsyncSession]) -> PageWriter:
    return PageWriter(sessions, lambda: datetime.now(UTC))


async def freeze_pair(sessions: async_sessionmaker[AsyncSession], account_id: int) -> FrozenPair:
    now = datetime.now(UTC)
    order_id = f"frozen-{uuid.uuid4().hex[:8]}"
    modified = now - timedelta(hours=3)
    modified = modified.replace(microsecond=modified.microsecond // 1000 * 1000)  # eBay: ms
    writer = _writer(sessions)
    genuine = single_page(
        account_id,
        [make_order(order_id, modified=modified, total="25.00")],
        window_from=now - timedelta(days=2),
        window_to=now - timedelta(hours=1),
    )
    await writer.write(genuine, None)
    forged = single_page(
        account_id,
        [make_order(order_id, modified=datetime(2098, 1, 1, tzinfo=UTC), total="0.01")],
        window_from=now - timedelta(hours=1),
        window_to=FORGED_CURSOR,
    )
    await writer.write(forged, None)
    return FrozenPair(account_id, order_id, modified)


async def cursor_of(sessions: async_sessionmaker[AsyncSession], account_id: int) -> datetime:
    async with sessions() as session:
        state = await SyncRepository(session).get_state(account_id, Family.ORDERS)
    assert state is not None and state.cursor is not None
    return state.cursor


async def order_of(sessions: async_sessionmaker[AsyncSession], order_id: str) -> EbayOrder:
    async with sessions() as session:
        row = await session.scalar(select(EbayOrder).where(EbayOrder.order_id == order_id))
    assert row is not None
    return row


async def queued_window(js: JetStreamContext, account_id: int) -> SyncWindow:
    msg = await js.get_last_msg(WINDOWS_STREAM, f"sync.window.orders.{account_id}")
    return SyncWindow.model_validate_json(msg.data or b"")


async def resync(
    sessions: async_sessionmaker[AsyncSession], window: SyncWindow, pair: FrozenPair
) -> PageBatch:
    """What the fetcher brings for the repair window: the genuine order, in one page."""
    page = PageBatch(
        **window.run_fields(),
        page_no=1,
        page_count=1,
        fetched_at=datetime.now(UTC),
        records=[make_order(pair.order_id, modified=pair.genuine_modified, total="25.00")],
    )
    await _writer(sessions).write(page, None)
    return page


GENUINE_TOTAL = Decimal("25.00")
