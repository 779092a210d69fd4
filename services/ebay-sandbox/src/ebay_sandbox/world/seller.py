"""Sellers and their worlds: catalogue, orders, money, flows, messages and purchases."""

from ebay_sandbox.clock import DAY
from ebay_sandbox.ids import base62, rng
from ebay_sandbox.profiles import Profile
from ebay_sandbox.world.aftersale import parse_flow_id
from ebay_sandbox.world.arrivals import ArrivalStream
from ebay_sandbox.world.ledger import (
    LedgerEntry,
    PayoutPlan,
    PayoutSchedule,
    make_payout,
    order_entries,
    store_charges,
)
from ebay_sandbox.world.listings import ListingBook
from ebay_sandbox.world.messages import MessagePlan, parse_message_id, plan_message, reply_to
from ebay_sandbox.world.model import Flow, FlowKind, Seller
from ebay_sandbox.world.order_state import OrderRecord
from ebay_sandbox.world.orders import MAX_SPAN_MS, PER_SELLER, parse_order_id, plan_order
from ebay_sandbox.world.purchases import PurchasePlan, plan_purchase

# Mostly US sellers, with a UK and a German one among the first few.
MARKET_CYCLE = ("EBAY_US", "EBAY_GB", "EBAY_US", "EBAY_DE", "EBAY_US", "EBAY_US")
# Share of Inventory API listings: all, half, none (Seller Hub only), in turn.
INVENTORY_SHARES = (1.0, 0.5, 0.0)


def make_seller(seed: int, index: int, profile: Profile, origin_ms: int) -> Seller:
    """Seller ``index`` (0-based) for ``seed``."""
    r = rng(seed, "seller", index)
    account_type = "BUSINESS" if r.random() < 0.4 else "INDIVIDUAL"
    registered = origin_ms - profile.history_days * DAY - int(r.uniform(365, 8 * 365)) * DAY
    return Seller(
        index=index,
        user_id=base62(f"{seed}/user/{index}", 11),
        username=f"sandbox_seller_{index + 1}",
        marketplace_id=MARKET_CYCLE[index % len(MARKET_CYCLE)],
        account_type=account_type,
        profile=profile,
        inventory_share=INVENTORY_SHARES[index % len(INVENTORY_SHARES)],
        registration_ms=registered,
    )


class SellerWorld:
    """One seller's generated history, built lazily and cached within memory bounds.

    Orders are indexed by creation day on first use: their transactions (by transaction day
    and by payout day) and their flows (by opening day). Anything that happens to an order
    happens within ``MAX_SPAN_MS`` of its creation, which bounds every scan.
    """

    def __init__(self, seed: int, seller: Seller, origin_ms: int, cache: int) -> None:
        self.seed = seed
        self.seller = seller
        profile = seller.profile
        self.start_ms = origin_ms - profile.history_days * DAY
        self.book = ListingBook(seed, seller, self.start_ms, cache)
        key = (seed, seller.index)
        self.orders: ArrivalStream[OrderRecord] = ArrivalStream(
            (*key, "orders"), self.start_ms, profile.orders_per_day, self._order, cache
        )
        self.messages: ArrivalStream[MessagePlan] = ArrivalStream(
            (*key, "messages"), self.start_ms, profile.messages_per_day, self._message, cache
        )
        self.purchases: ArrivalStream[PurchasePlan] = ArrivalStream(
            (*key, "purchases"), self.start_ms, profile.purchases_per_day, self._purchase, cache
        )
        self.schedule = PayoutSchedule(seller)
        self._indexed: set[int] = set()
        self._by_date: dict[int, list[LedgerEntry]] = {}
        self._by_payout: dict[int, list[LedgerEntry]] = {}
        self._flows: dict[int, list[tuple[int, Flow]]] = {}
        self._payouts: dict[int, PayoutPlan | None] = {}

    @property
    def built(self) -> int:
        """Entities generated so far: the work this world has done."""
        return self.orders.built + self.messages.built + self.purchases.built + self.book.built

    def _order(self, index: int, created_ms: int) -> OrderRecord:
        return OrderRecord(plan_order(self.seed, self.seller, index, created_ms, self.book))

    def _message(self, index: int, created_ms: int) -> MessagePlan:
        return plan_message(self.seed, self.seller, self.book, index, created_ms)

    def _purchase(self, index: int, created_ms: int) -> PurchasePlan:
        return plan_purchase(self.seed, self.seller, index, created_ms)

    # --- lookups by id ------------------------------------------------------------------------

    def find_order(self, order_id: str, now_ms: int) -> OrderRecord | None:
        """The order with this id if it exists at ``now_ms``."""
        parsed = parse_order_id(self.seed, order_id)
        if parsed is None or parsed[0] != self.seller.index:
            return None
        return self.orders.find(parsed[1], now_ms)

    def find_message(self, message_id: str, now_ms: int) -> MessagePlan | None:
        """The message with this id if it is in the mailbox at ``now_ms``."""
        parsed = parse_message_id(self.seed, message_id)
        if parsed is None or parsed[0] != self.seller.index:
            return None
        message = self.messages.find(parsed[1], now_ms)
        if message is not None and parsed[2]:
            message = reply_to(message)
        if message is None or not message.received_ms <= now_ms < message.expires_ms:
            return None
        return message

    # --- the order-day index ------------------------------------------------------------------

    def index_orders(self, low_ms: int, high_ms: int) -> None:
        """Index every order created in ``[low_ms, high_ms]`` (whole UTC days)."""
        first = max(low_ms, self.start_ms) // DAY
        for day in range(first, high_ms // DAY + 1):
            if day in self._indexed:
                continue
            self._indexed.add(day)
            for index in self.orders.between(day * DAY, day * DAY + DAY - 1):
                plan = self.orders.get(index).plan
                for entry in order_entries(self.seed, plan):
                    self._by_date.setdefault(entry.date_ms // DAY, []).append(entry)
                    payout_day = self.schedule.day_for(entry.available_ms)
                    self._by_payout.setdefault(payout_day, []).append(entry)
                for flow in plan.flows:
                    self._flows.setdefault(flow.created_ms // DAY, []).append((index, flow))

    def flows(
        self, kinds: frozenset[FlowKind], low_ms: int, high_ms: int
    ) -> list[tuple[int, Flow]]:
        """(order index, flow) of ``kinds`` opened in ``[low_ms, high_ms]``, oldest first."""
        self.index_orders(low_ms - MAX_SPAN_MS, high_ms)
        found = [
            (index, flow)
            for day in range(low_ms // DAY, high_ms // DAY + 1)
            for index, flow in self._flows.get(day, ())
            if flow.kind in kinds and low_ms <= flow.created_ms <= high_ms
        ]
        return sorted(found, key=lambda item: item[1].created_ms)

    def find_flow(self, kind: FlowKind, flow_id: str, now_ms: int) -> tuple[int, Flow] | None:
        """A flow by id if it has been opened at ``now_ms``."""
        number = parse_flow_id(self.seed, kind, flow_id)
        if number is None or number // PER_SELLER != self.seller.index:
            return None
        record = self.orders.find(number % PER_SELLER, now_ms)
        if record is None:
            return None
        for flow in record.plan.flows:
            if flow.kind is kind and flow.flow_id == flow_id and flow.created_ms <= now_ms:
                return record.plan.index, flow
        return None

    # --- money --------------------------------------------------------------------------------

    def entries_dated(self, low_ms: int, high_ms: int) -> list[LedgerEntry]:
        """Transactions dated within ``[low_ms, high_ms]``."""
        self.index_orders(low_ms - MAX_SPAN_MS, high_ms)
        found = [
            entry
            for day in range(low_ms // DAY, high_ms // DAY + 1)
            for entry in self._by_date.get(day, ())
            if low_ms <= entry.date_ms <= high_ms
        ]
        return found + store_charges(self.seed, self.seller, low_ms, high_ms)

    def next_entry_after(self, now_ms: int) -> int:
        """When the next transaction appears (at the latest: the end of the next UTC day)."""
        day = now_ms // DAY
        self.index_orders(now_ms - MAX_SPAN_MS, now_ms + DAY)
        upcoming = [
            e.date_ms
            for d in (day, day + 1)
            for e in self._by_date.get(d, ())
            if e.date_ms > now_ms
        ]
        return min(upcoming, default=(day + 2) * DAY)

    def payout(self, day: int) -> PayoutPlan | None:
        """The payout of ``day``, or None when there is none."""
        if day not in self._payouts:
            previous, instant = self.schedule.instant(day - 1), self.schedule.instant(day)
            self.index_orders(previous - MAX_SPAN_MS, instant)
            entries = self._by_payout.get(day, []) + store_charges(
                self.seed, self.seller, previous + 1, instant
            )
            self._payouts[day] = make_payout(self.seed, self.seller, self.schedule, day, entries)
        return self._payouts[day]

    def payout_of(self, entry: LedgerEntry) -> tuple[int, PayoutPlan | None]:
        """(payout instant, payout) an entry is paid out with."""
        day = self.schedule.day_for(entry.available_ms)
        return self.schedule.instant(day), self.payout(day)
