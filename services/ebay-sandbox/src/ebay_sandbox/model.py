"""Plain immutable data describing sellers, listings and the timeline of each order."""

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing in a seller's catalogue."""

    legacy_item_id: str
    sku: str
    title: str
    price_cents: int
    shipping_cents: int
    sold_format: str


@dataclass(frozen=True, slots=True)
class Seller:
    """A simulated eBay seller account."""

    index: int
    user_id: str
    username: str
    marketplace_id: str
    account_type: str
    listings: tuple[Listing, ...]


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
