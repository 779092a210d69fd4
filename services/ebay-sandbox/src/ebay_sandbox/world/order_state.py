"""An order's state at an instant, folded from its event timeline."""

from bisect import bisect_right
from dataclasses import dataclass, field

from ebay_sandbox.world.model import Event, EventKind, OrderPlan


@dataclass
class OrderState:
    """What has happened to an order so far."""

    paid_ms: int | None = None
    cancel_request: Event | None = None
    cancel_outcome: Event | None = None
    shipments: list[Event] = field(default_factory=list)
    refunds: list[Event] = field(default_factory=list)

    @property
    def refunded_cents(self) -> int:
        """Money returned to the buyer so far."""
        return sum(r.amount_cents for r in self.refunds)


def fold(events: tuple[Event, ...]) -> OrderState:
    """Apply ``events`` in order."""
    state = OrderState()
    for event in events:
        if event.kind is EventKind.PAID:
            state.paid_ms = event.at_ms
        elif event.kind is EventKind.CANCEL_REQUESTED:
            state.cancel_request = event
        elif event.kind is EventKind.CANCEL_REJECTED:
            state.cancel_outcome = event
        elif event.kind is EventKind.CANCELLED:
            state.cancel_outcome = event
            state.refunds.append(event)
        elif event.kind is EventKind.SHIPPED:
            state.shipments.append(event)
        elif event.kind is EventKind.REFUNDED:
            state.refunds.append(event)
    return state


def fulfillment_status(plan: OrderPlan, state: OrderState) -> str:
    """``orderFulfillmentStatus``."""
    shipped = sum(len(s.lines) for s in state.shipments)
    if shipped == 0:
        return "NOT_STARTED"
    return "FULFILLED" if shipped >= len(plan.lines) else "IN_PROGRESS"


def payment_status(plan: OrderPlan, state: OrderState) -> str:
    """``orderPaymentStatus``."""
    refunded = state.refunded_cents
    if refunded >= plan.total_cents:
        return "FULLY_REFUNDED"
    if refunded > 0:
        return "PARTIALLY_REFUNDED"
    return "PAID" if state.paid_ms is not None else "PENDING"


class OrderRecord:
    """A generated order plus cheap access to its state at any instant."""

    __slots__ = ("_statuses", "event_times", "plan")

    def __init__(self, plan: OrderPlan) -> None:
        self.plan = plan
        self.event_times = tuple(e.at_ms for e in plan.events)
        self._statuses: tuple[str, ...] | None = None  # computed on first use: indexing skips it

    @property
    def order_id(self) -> str:
        """The eBay order id."""
        return self.plan.order_id

    def applied(self, now_ms: int) -> int:
        """How many events have happened at ``now_ms`` (0 means the order does not exist yet)."""
        return bisect_right(self.event_times, now_ms)

    def last_modified_ms(self, applied: int) -> int:
        """``lastModifiedDate`` once ``applied`` events have happened."""
        return self.event_times[applied - 1]

    def fulfillment_status(self, applied: int) -> str:
        """``orderFulfillmentStatus`` once ``applied`` events have happened."""
        if self._statuses is None:
            events = self.plan.events
            self._statuses = tuple(
                fulfillment_status(self.plan, fold(events[: n + 1])) for n in range(len(events))
            )
        return self._statuses[applied - 1]

    def next_change_ms(self, now_ms: int) -> int | None:
        """The next event after ``now_ms``, if any."""
        n = self.applied(now_ms)
        return self.event_times[n] if n < len(self.event_times) else None

    def state(self, applied: int) -> OrderState:
        """The folded state once ``applied`` events have happened."""
        return fold(self.plan.events[:applied])
