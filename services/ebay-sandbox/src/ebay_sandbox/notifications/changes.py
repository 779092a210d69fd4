"""What changed in one seller's simulated world between two instants.

The world is a pure function of time, so "a change" is an instant passing: an order event, a
step of a return or inquiry, a message arriving, a listing starting or ending. A watch keeps a
heap of the known future instants, so each scan costs only what happened since the last one.
"""

import heapq
import itertools
from dataclasses import dataclass
from enum import StrEnum

from ebay_sandbox.world.messages import INBOX, MessagePlan
from ebay_sandbox.world.model import Event, EventKind, Flow, FlowKind, Listing, OrderPlan, Seller
from ebay_sandbox.world.orders import MAX_SPAN_MS
from ebay_sandbox.world.seller import SellerWorld


class ChangeKind(StrEnum):
    """Changes a notification can tell about."""

    ORDER = "order"  # an order event (CREATED, PAID, SHIPPED, CANCEL_*)
    RETURN = "return"  # a return step
    INQUIRY = "inquiry"  # an item-not-received inquiry step
    MESSAGE = "message"  # a message arrived in the inbox
    LISTING_STARTED = "listing_started"
    LISTING_ENDED = "listing_ended"
    ACCOUNT_DELETED = "account_deleted"
    AUTHORIZATION_REVOKED = "authorization_revoked"


@dataclass(frozen=True, slots=True)
class Change:
    """One change of one seller, at sandbox instant ``at_ms``."""

    kind: ChangeKind
    at_ms: int
    seller: Seller
    order: OrderPlan | None = None
    event: Event | None = None
    flow: Flow | None = None
    step: int = 0  # index into flow.steps
    message: MessagePlan | None = None
    listing: Listing | None = None


_ORDER_EVENTS = frozenset(
    {
        EventKind.CREATED,
        EventKind.PAID,
        EventKind.SHIPPED,
        EventKind.CANCEL_REQUESTED,
        EventKind.CANCEL_REJECTED,
        EventKind.CANCELLED,
    }
)
_FLOWS = {FlowKind.RETURN: ChangeKind.RETURN, FlowKind.INQUIRY: ChangeKind.INQUIRY}
# Heap entries: (at_ms, tiebreak, order index, event index or -1, flow index, step index).
_Entry = tuple[int, int, int, int, int, int]


class SellerWatch:
    """Changes of one seller after ``start_ms`` (the instant it was first watched)."""

    def __init__(self, world: SellerWorld, start_ms: int) -> None:
        self.world = world
        self.cursor = start_ms
        self._seq = itertools.count()
        self._orders: list[_Entry] = []
        self._listings: list[tuple[int, int]] | None = None
        # Orders created before the watch can still change: queue their future instants.
        for index in world.orders.between(start_ms - MAX_SPAN_MS, start_ms):
            self._queue_order(index, after_ms=start_ms)

    def _queue_order(self, index: int, after_ms: int) -> None:
        plan = self.world.orders.get(index).plan
        for e, event in enumerate(plan.events):
            if event.at_ms > after_ms and event.kind in _ORDER_EVENTS:
                entry = (event.at_ms, next(self._seq), index, e, -1, -1)
                heapq.heappush(self._orders, entry)
        for f, flow in enumerate(plan.flows):
            if flow.kind not in _FLOWS:
                continue
            for s, step in enumerate(flow.steps):
                if step.at_ms > after_ms:
                    heapq.heappush(self._orders, (step.at_ms, next(self._seq), index, -1, f, s))

    def _listing_heap(self) -> list[tuple[int, int]]:
        if self._listings is None:
            book = self.world.book
            self._listings = [
                (book.slot(slot).next_change(self.cursor), slot) for slot in range(book.slot_count)
            ]
            heapq.heapify(self._listings)
        return self._listings

    def advance(self, now_ms: int, *, listings: bool) -> list[Change]:
        """Every change in ``(cursor, now_ms]``, oldest first; the cursor moves to ``now_ms``."""
        if now_ms <= self.cursor:
            return []
        low, seller, world = self.cursor + 1, self.world.seller, self.world
        changes: list[Change] = []
        for index in world.orders.between(low, now_ms):
            self._queue_order(index, after_ms=self.cursor)
        while self._orders and self._orders[0][0] <= now_ms:
            at_ms, _, index, e, f, s = heapq.heappop(self._orders)
            plan = world.orders.get(index).plan
            if e >= 0:
                changes.append(Change(ChangeKind.ORDER, at_ms, seller, plan, plan.events[e]))
            else:
                flow = plan.flows[f]
                changes.append(Change(_FLOWS[flow.kind], at_ms, seller, plan, flow=flow, step=s))
        for index in world.messages.between(low, now_ms):
            message = world.messages.get(index)
            if message.folder_id == INBOX:
                changes.append(
                    Change(ChangeKind.MESSAGE, message.received_ms, seller, message=message)
                )
        if listings:
            changes += self._listing_changes(now_ms)
        self.cursor = now_ms
        changes.sort(key=lambda c: c.at_ms)
        return changes

    def _listing_changes(self, now_ms: int) -> list[Change]:
        heap, book, seller = self._listing_heap(), self.world.book, self.world.seller
        changes = []
        while heap and heap[0][0] <= now_ms:
            at_ms, slot = heapq.heappop(heap)
            timeline = book.slot(slot)
            generation = timeline.latest(at_ms)
            assert generation is not None
            if timeline.starts[generation] == at_ms:
                listing = book.listing(slot, generation)
                changes.append(Change(ChangeKind.LISTING_STARTED, at_ms, seller, listing=listing))
            else:
                listing = book.listing(slot, generation)
                changes.append(Change(ChangeKind.LISTING_ENDED, at_ms, seller, listing=listing))
            heapq.heappush(heap, (timeline.next_change(at_ms), slot))
        return changes
