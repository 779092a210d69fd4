"""Targeted windows: re-read just the ids a notification named (docs/adr/0018).

A targeted window (``SyncWindow.targets``, trigger ``notification``) has no time range; each
family re-reads its ids with its cheapest call: orders ``getOrders?orderIds=`` (50 a call),
messages ``GetMyMessages ReturnMessages`` (10 a call), returns the return search by
``return_id`` plus the return's detail, listings Trading ``GetItem`` (one a call; an ended one
marked :data:`ENDED_KEY` for the writer to end), inquiries ``GET /inquiry/{id}`` and the
inquiry search by the item and transaction it names (the search takes no ``inquiry_id``).
The window is one page; a multi-phase source's other phases read nothing. A family without a
targeted call answers an empty page: the run completes and polling, the safety net, picks the
change up. Kept apart from the sources so the polling phase logic stays as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from common.ebay.fulfillment import MAX_ORDER_IDS, FulfillmentClient
from common.ebay.postorder import INQUIRY_SEARCH, RETURN_SEARCH, PostOrderClient
from common.ebay.trading import MAX_MESSAGE_IDS, TradingClient
from common.ebay.trading_items import get_item
from common.families import DETAIL_KEY, ENDED_KEY, Family
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


def listings_call(client: TradingClient) -> TargetedCall:
    """Each listing as the ActiveList has it; one eBay reports ended is marked so; one it no
    longer knows (error 17) is left to the snapshot sweep."""

    async def call(account: AccountToken, ids: list[str]) -> list[Record]:
        records: list[Record] = []
        for item_id in ids:
            found = await get_item(client, account.token, account.site_id, item_id)
            if found is not None:
                records.append({**found.record, ENDED_KEY: True} if found.ended else found.record)
        return records

    return call


def inquiry_lookup(detail: Record) -> dict[str, str]:
    """The search filters that find an inquiry's summary from its detail: the item and the
    transaction it is about (ids may come as JSON numbers, contracts §3)."""
    filters: dict[str, str] = {}
    for key, param in (("itemId", "item_id"), ("transactionId", "transaction_id")):
        value = detail.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            filters[param] = str(value)
    return filters


def inquiries_call(client: PostOrderClient) -> TargetedCall:
    """The inquiry's detail (``GET /inquiry/{id}``), then its summary: the search by the item
    and transaction the detail names, keeping the member with that ``inquiryId`` — the record
    polling publishes (summary with its detail)."""

    async def call(account: AccountToken, ids: list[str]) -> list[Record]:
        records: list[Record] = []
        for inquiry_id in ids:
            detail = await client.detail(
                INQUIRY_SEARCH,
                account.token,
                marketplace_id=account.marketplace_id,
                entity_id=inquiry_id,
            )
            filters = inquiry_lookup(detail)
            if not filters:
                continue  # nothing to search by: polling brings it
            page = await client.search(
                INQUIRY_SEARCH,
                account.token,
                marketplace_id=account.marketplace_id,
                filters=filters,
                offset=0,
                limit=10,
            )
            for member in page.members:
                if str(member.get("inquiryId")) == inquiry_id:
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
        Family.ACTIVE_INVENTORY: listings_call(trading),
        Family.INQUIRIES: inquiries_call(post_order),
    }
    return {s.family: WithTargets(s, calls.get(s.family)) for s in sources}
