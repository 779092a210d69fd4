"""Plain immutable data: sellers, listings, orders and the after-sale flows of an order."""

from dataclasses import dataclass
from enum import StrEnum

from ebay_sandbox.profiles import Profile


@dataclass(frozen=True, slots=True)
class Seller:
    """A simulated eBay seller account."""

    index: int
    user_id: str
    username: str
    marketplace_id: str
    account_type: str
    profile: Profile
    # Share of listings created through the Inventory API (the rest are Seller Hub listings).
    inventory_share: float
    registration_ms: int


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing: a generation of a catalogue slot, from its start until it ends."""

    item_id: str
    slot: int
    generation: int
    sku: str
    title: str
    price_cents: int
    shipping_cents: int
    sold_format: str  # FIXED_PRICE or AUCTION
    quantity: int
    start_ms: int
    end_ms: int
    # Unit sales (fixed price) or bids (auction), in time order, all within [start, end].
    activity: tuple[int, ...]
    watch_count: int
    condition: str
    category_id: str
    inventory_api: bool

    def activity_count(self, at_ms: int) -> int:
        """Sales or bids that happened at or before ``at_ms``."""
        return sum(1 for t in self.activity if t <= at_ms)


@dataclass(frozen=True, slots=True)
class Contact:
    """Name, contact details and postal address of a buyer."""

    full_name: str
    email: str
    phone: str
    address_line1: str
    city: str
    region: str
    postal_code: str
    country: str


class EventKind(StrEnum):
    """Things that happen to an order after it is created."""

    CREATED = "CREATED"
    PAID = "PAID"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCEL_REJECTED = "CANCEL_REJECTED"
    CANCELLED = "CANCELLED"
    SHIPPED = "SHIPPED"
    REFUNDED = "REFUNDED"


@dataclass(frozen=True, slots=True)
class Event:
    """One timed change; ``lines``/``amount_cents``/``ref`` are used by some kinds only."""

    at_ms: int
    kind: EventKind
    lines: tuple[int, ...] = ()
    amount_cents: int = 0
    ref: str = ""


@dataclass(frozen=True, slots=True)
class LinePlan:
    """Static part of one line item."""

    line_item_id: str
    transaction_id: str  # legacy (Trading/Post-Order) transaction id of the line
    listing: Listing
    quantity: int
    shipping_cents: int

    @property
    def cost_cents(self) -> int:
        """Unit price times quantity."""
        return self.listing.price_cents * self.quantity

    @property
    def total_cents(self) -> int:
        """Cost plus shipping."""
        return self.cost_cents + self.shipping_cents


class FlowKind(StrEnum):
    """After-sale processes with their own eBay API family."""

    RETURN = "RETURN"
    INQUIRY = "INQUIRY"
    CASE = "CASE"
    DISPUTE = "DISPUTE"


@dataclass(frozen=True, slots=True)
class FlowStep:
    """The flow enters ``state`` at ``at_ms``; ``due_ms`` is the deadline of the next action."""

    at_ms: int
    state: str
    due_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """A return, inquiry, case or payment dispute on one line of an order."""

    kind: FlowKind
    flow_id: str
    line: int
    reason: str
    amount_cents: int
    steps: tuple[FlowStep, ...]  # strictly increasing times; steps[0] opens the flow
    refund_ms: int | None = None  # when the buyer got their money back, if they did
    outcome: str = ""  # final outcome label (disputes: SELLER_WON / SELLER_LOST)

    @property
    def created_ms(self) -> int:
        """When the flow was opened."""
        return self.steps[0].at_ms

    @property
    def step_times(self) -> tuple[int, ...]:
        """The instants the flow changes."""
        return tuple(s.at_ms for s in self.steps)

    def applied(self, now_ms: int) -> int:
        """How many steps have happened at ``now_ms`` (0: not opened yet)."""
        return sum(1 for s in self.steps if s.at_ms <= now_ms)

    def step(self, now_ms: int) -> FlowStep:
        """The current step (the flow must have been opened)."""
        return self.steps[self.applied(now_ms) - 1]

    def closed_ms(self, now_ms: int) -> int | None:
        """When it closed, if it has."""
        last = self.steps[-1]
        return last.at_ms if last.at_ms <= now_ms and last.state.startswith("CLOSED") else None


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """Everything about an order that does not depend on time, plus its event timeline."""

    order_id: str
    index: int
    seller: Seller
    currency: str
    buyer_username: str
    buyer: Contact
    lines: tuple[LinePlan, ...]
    carrier: tuple[str, str]
    sales_record_reference: str
    events: tuple[Event, ...]  # sorted, strictly increasing; events[0] is CREATED
    flows: tuple[Flow, ...] = ()
    label_cents: int = 0  # shipping label bought through eBay (0: the seller used their own)

    @property
    def created_ms(self) -> int:
        """Creation instant in epoch milliseconds."""
        return self.events[0].at_ms

    @property
    def subtotal_cents(self) -> int:
        """Sum of line costs."""
        return sum(line.cost_cents for line in self.lines)

    @property
    def delivery_cents(self) -> int:
        """Sum of line shipping costs."""
        return sum(line.shipping_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        """What the buyer pays."""
        return self.subtotal_cents + self.delivery_cents

    def event_at(self, kind: EventKind) -> Event | None:
        """The first event of ``kind``, if any."""
        return next((e for e in self.events if e.kind is kind), None)
