"""Ground truth: ``GET /sandbox/sellers/{username}/{family}`` returns exactly the objects the
API would return now, unpaged, optionally restricted to the date the API filters on.

Every family accepts ``date_from``/``date_to`` (ISO-8601 with zone, inclusive) and its own
alias: orders ``modified_from``/``modified_to`` (lastModifiedDate), transactions
``transaction_date_from/_to``, payouts ``payout_date_from/_to``, messages
``receive_date_from/_to``, purchases ``created_date_from/_to``, cases/inquiries/returns
``creation_date_from/_to``, payment_disputes ``open_date_from/_to``. Snapshot families
(inventory_items, offers, active_listings) take no dates. XML families answer in XML.
"""

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from ebay_sandbox.catalog import MARKETS
from ebay_sandbox.clock import DAY, to_ms
from ebay_sandbox.finances.query import LOOKBACK_MS as FINANCES_LOOKBACK_MS
from ebay_sandbox.finances.render import payout_json, transaction_json
from ebay_sandbox.finances.select import select_payouts, select_transactions
from ebay_sandbox.fulfillment.disputes import LOOKBACK_MS as DISPUTES_LOOKBACK_MS
from ebay_sandbox.fulfillment.disputes import select_disputes, summary_json
from ebay_sandbox.fulfillment.query import OrderFilter, Range, select_orders
from ebay_sandbox.fulfillment.render import order_json
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.inventory.render import inventory_item_json, offer_json, stock
from ebay_sandbox.paging import collection, dumps
from ebay_sandbox.postorder.render import case_member, inquiry_member, return_member
from ebay_sandbox.state import Sandbox, SandboxDep, base_url
from ebay_sandbox.trading.buying import MAX_DURATION_DAYS, select_purchases, transaction_xml
from ebay_sandbox.trading.messages import message_xml, select_messages
from ebay_sandbox.trading.selling import active_listings, item_xml
from ebay_sandbox.trading.xml import MEDIA_TYPE, el, envelope, node
from ebay_sandbox.world.model import FlowKind, Seller
from ebay_sandbox.world.seller import SellerWorld

router = APIRouter(prefix="/sandbox/sellers")
POST_ORDER_LOOKBACK_MS = 548 * DAY
_DATE = TypeAdapter(AwareDatetime)
ALIASES = {
    "orders": "modified",
    "transactions": "transaction_date",
    "payouts": "payout_date",
    "messages": "receive_date",
    "purchases": "created_date",
    "cases": "creation_date",
    "inquiries": "creation_date",
    "returns": "creation_date",
    "payment_disputes": "open_date",
}
Bounds = tuple[int | None, int | None]
Truth = Callable[[Sandbox, SellerWorld, Request, Bounds], Response]


def _ms(moment: datetime, *, round_up: bool = False) -> int:
    # Same rounding as the API filters: sub-millisecond parts round towards the inside.
    return to_ms(moment) + (1 if round_up and moment.microsecond % 1000 else 0)


def _bounds(request: Request, family: str) -> Bounds:
    alias = ALIASES.get(family)
    found: list[int | None] = []
    for end in ("from", "to"):
        names = [f"date_{end}"] + ([f"{alias}_{end}"] if alias else [])
        raw = next((request.query_params[n] for n in names if n in request.query_params), None)
        if raw is None:
            found.append(None)
            continue
        try:
            found.append(_ms(_DATE.validate_python(raw), round_up=end == "from"))
        except ValidationError as exc:
            raise HTTPException(422, f"{end}: not an ISO-8601 instant with zone") from exc
    return found[0], found[1]


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _range(bounds: Bounds, default_low: int, now_ms: int) -> tuple[int, int]:
    low, high = bounds
    return (low if low is not None else default_low), (high if high is not None else now_ms)


def _orders(sandbox: Sandbox, world: SellerWorld, request: Request, bounds: Bounds) -> Response:
    # An open range still counts as a date filter, so the 90-day default window does not apply.
    now_ms = sandbox.clock.now_ms()
    selected = select_orders(world, OrderFilter(modified=Range(*bounds)), Horizon(now_ms))
    base = base_url(request)
    items = [dumps(order_json(r, n, base, full=False, tax_breakdown=True)) for r, n in selected]
    return _json(collection({}, "orders", items))


def _transactions(
    sandbox: Sandbox, world: SellerWorld, _request: Request, bounds: Bounds
) -> Response:
    now_ms = sandbox.clock.now_ms()
    low, high = _range(bounds, now_ms - FINANCES_LOOKBACK_MS, now_ms)
    chosen = select_transactions(world, low, high, {}, Horizon(now_ms))
    items = [dumps(transaction_json(world, e, now_ms)) for e in chosen]
    return _json(collection({}, "transactions", items))


def _payouts(sandbox: Sandbox, world: SellerWorld, _request: Request, bounds: Bounds) -> Response:
    now_ms = sandbox.clock.now_ms()
    low, high = _range(bounds, now_ms - FINANCES_LOOKBACK_MS, now_ms)
    chosen = select_payouts(world, low, high, None, Horizon(now_ms))
    items = [dumps(payout_json(world.seller, p, now_ms)) for p in chosen]
    return _json(collection({}, "payouts", items))


def _inventory_items(
    sandbox: Sandbox, world: SellerWorld, _request: Request, _bounds: Bounds
) -> Response:
    now_ms = sandbox.clock.now_ms()
    items = [dumps(inventory_item_json(world.book, s, now_ms)) for s in stock(world.book, now_ms)]
    return _json(collection({}, "inventoryItems", items))


def _offers(sandbox: Sandbox, world: SellerWorld, _request: Request, _bounds: Bounds) -> Response:
    now_ms = sandbox.clock.now_ms()
    offers = [s for s in stock(world.book, now_ms) if s.slot is not None and s.listing]
    return _json(
        collection({}, "offers", [dumps(offer_json(world.book, s, now_ms)) for s in offers])
    )


def _flows(kind: FlowKind, key: str) -> Truth:
    def truth(sandbox: Sandbox, world: SellerWorld, request: Request, bounds: Bounds) -> Response:
        now_ms = sandbox.clock.now_ms()
        low, high = _range(bounds, now_ms - POST_ORDER_LOOKBACK_MS, now_ms)
        flows = world.flows(frozenset({kind}), low, min(high, now_ms))
        flows.sort(key=lambda item: (-item[1].created_ms, item[1].flow_id))
        base = base_url(request)
        members = []
        for index, flow in flows:
            plan = world.orders.get(index).plan
            if kind is FlowKind.RETURN:
                members.append(return_member(plan, flow, now_ms, base))
            elif kind is FlowKind.CASE:
                members.append(case_member(plan, flow, now_ms))
            else:
                last_modified = sandbox.config.strict.inquiry_last_modified
                members.append(inquiry_member(plan, flow, now_ms, last_modified=last_modified))
        return _json(dumps({key: members}))

    return truth


def _disputes(sandbox: Sandbox, world: SellerWorld, _request: Request, bounds: Bounds) -> Response:
    now_ms = sandbox.clock.now_ms()
    low, high = _range(bounds, now_ms - DISPUTES_LOOKBACK_MS, now_ms)
    chosen = select_disputes(world, low, high, Horizon(now_ms), recent_only=False)
    items = [dumps(summary_json(p, f, now_ms)) for p, f in chosen]
    return _json(collection({}, "paymentDisputeSummaries", items))


def _xml(call: str, now_ms: int, payload: str) -> Response:
    return Response(envelope(call, now_ms, payload), media_type=MEDIA_TYPE)


def _messages(sandbox: Sandbox, world: SellerWorld, _request: Request, bounds: Bounds) -> Response:
    now_ms = sandbox.clock.now_ms()
    low, high = _range(bounds, 0, now_ms)
    messages = select_messages(world, low, high, Horizon(now_ms))
    items = [message_xml(m, now_ms, with_text=True) for m in messages]
    return _xml("GetMyMessages", now_ms, node("Messages", items) if items else "")


def _active_listings(
    sandbox: Sandbox, world: SellerWorld, _request: Request, _bounds: Bounds
) -> Response:
    now_ms = sandbox.clock.now_ms()
    listings = sorted(active_listings(world.book, Horizon(now_ms)), key=lambda i: i.item_id)
    currency = MARKETS[world.seller.marketplace_id].currency
    items = [item_xml(i, now_ms, currency) for i in listings]
    return _xml("GetMyeBaySelling", now_ms, _one_page("ActiveList", "ItemArray", items))


def _purchases(sandbox: Sandbox, world: SellerWorld, _request: Request, bounds: Bounds) -> Response:
    now_ms = sandbox.clock.now_ms()
    low, high = _range(bounds, now_ms - MAX_DURATION_DAYS * DAY, now_ms)
    low = max(low, now_ms - MAX_DURATION_DAYS * DAY)
    purchases = select_purchases(world, low, high, Horizon(now_ms))
    currency = MARKETS[world.seller.marketplace_id].currency
    items = [transaction_xml(p, currency) for p in purchases]
    return _xml("GetMyeBayBuying", now_ms, _one_page("WonList", "OrderTransactionArray", items))


def _one_page(container: str, array: str, items: list[str]) -> str:
    """A My eBay list holding every item on one page (no array when there is none)."""
    parts = [node(array, items)] if items else []
    parts.append(
        node(
            "PaginationResult",
            [el("TotalNumberOfPages", 1 if items else 0), el("TotalNumberOfEntries", len(items))],
        )
    )
    return node(container, parts)


FAMILIES: dict[str, Truth] = {
    "orders": _orders,
    "transactions": _transactions,
    "payouts": _payouts,
    "inventory_items": _inventory_items,
    "offers": _offers,
    "messages": _messages,
    "active_listings": _active_listings,
    "purchases": _purchases,
    "cases": _flows(FlowKind.CASE, "members"),
    "inquiries": _flows(FlowKind.INQUIRY, "members"),
    "returns": _flows(FlowKind.RETURN, "members"),
    "payment_disputes": _disputes,
}


def _seller(sandbox: Sandbox, username: str) -> Seller:
    seller = sandbox.seller(username)
    if seller is None:
        raise HTTPException(404, f"unknown seller {username!r}")
    return seller


@router.get("/{username}/{family}")
async def ground_truth(
    username: str, family: str, request: Request, sandbox: SandboxDep
) -> Response:
    """Everything of ``family`` the API would return for ``username`` now."""
    seller = _seller(sandbox, username)
    truth = FAMILIES.get(family)
    if truth is None:
        raise HTTPException(404, f"unknown family {family!r}; choose from {sorted(FAMILIES)}")
    return truth(sandbox, sandbox.world(seller), request, _bounds(request, family))
