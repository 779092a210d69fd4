"""Targeted windows: re-read just the ids a notification named (docs/adr/0018).

A targeted window (``SyncWindow.targets``, trigger ``notification``) has no time range; each
family re-reads its ids with its cheapest call: orders ``getOrders?orderIds=`` (50 a call),
messages ``GetMyMessages ReturnMessages`` (10 a call), returns the return search by
``return_id`` plus the return's detail. The window is one page; a multi-phase source's other
phases read nothing. A family without a targeted call (listings, inquiries: see the ADR)
answers an empty page: the run completes and polling, the safety net, picks the change up.
Kept apart from the sources so the polling phase logic stays as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from common.ebay.fulfillment import MAX_ORDER_IDS, FulfillmentClient
from common.ebay.postorder import RETURN_SEARCH, PostOrderClient
from common.ebay.trading import MAX_MESSAGE_IDS, TradingClient
from common.families import DETAIL_KEY, Family
from fetcher.domain import PageShape
from fetcher.sources.base import PageRequest, Source, SourcePage
from fetcher.tokens import AccountToken

Record = dict[str, Any]
TargetedCall = Callable[[AccountToken, list[str]], Awaitable[list[Record]]]


def chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[first : first + size] for first in range(0, len(ids), size)]


@dataclass(frozen=True)
class WithTargets:
    """A family's source that serves targeted windows with ``call`` (None: nothing to call)."""

    inner: Source
    call: TargetedCall | None

    @property
    def family(self) -> Family:
        return self.inner.family

    @property
    def phases(self) -> tuple[str, ...]:
        return self.inner.phases

    async def page(self, request: PageRequest) -> SourcePage:
        targets = request.window.targets
        if targets is None:
            return await self.inner.page(request)
        if request.phase != self.phases[0] or self.call is None or not targets:
            return SourcePage.empty()
        records = await self.call(request.account, list(targets))
        # One page holds them all: ``total`` equals what was read, so nothing looks moved.
        shape = PageShape(consumed=len(records), total=len(records), has_next=False)
        return SourcePage(records, shape)


def orders_call(client: FulfillmentClient) -> TargetedCall:
    async def call(account: AccountToken, ids: list[str]) -> list[Record]:
        records: list[Record] = []
        for batch in chunks(ids, MAX_ORDER_IDS):
            records += await client.get_orders_by_ids(account.token, batch)
        return records

    return call


def messages_call(client: TradingClient) -> TargetedCall:
    async def call(account: AccountToken, ids: list[str]) -> list[Record]:
        records: list[Record] = []
        for batch in chunks(ids, MAX_MESSAGE_IDS):
            records += await client.messages(account.token, account.site_id, batch)
        return records

    return call


def returns_call(client: PostOrderClient) -> TargetedCall:
    """The return's summary (the search by ``return_id``) with its detail, as polling sends."""

    async def call(account: AccountToken, ids: list[str]) -> list[Record]:
        records: list[Record] = []
        for return_id in ids:
            page = await client.search(
                RETURN_SEARCH,
                account.token,
                marketplace_id=account.marketplace_id,
                filters={"return_id": return_id},
                offset=0,
                limit=10,
            )
            for member in page.members:
                detail = await client.detail(
                    RETURN_SEARCH,
                    account.token,
                    marketplace_id=account.marketplace_id,
                    entity_id=return_id,
                )
                records.append({**member, DETAIL_KEY: detail})
        return records

    return call


def with_targets(
    sources: list[Source],
    *,
    fulfillment: FulfillmentClient,
    trading: TradingClient,
    post_order: PostOrderClient,
) -> Mapping[Family, Source]:
    """Every family's source, each able to serve a targeted window."""
    calls: dict[Family, TargetedCall] = {
        Family.ORDERS: orders_call(fulfillment),
        Family.MESSAGES: messages_call(trading),
        Family.RETURNS: returns_call(post_order),
    }
    return {s.family: WithTargets(s, calls.get(s.family)) for s in sources}
