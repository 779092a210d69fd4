"""After-sale flows of an order: returns, item-not-received inquiries, cases, payment disputes.

Each flow is a fixed timeline of steps drawn when the order is generated. A flow that ends with
the buyer's money back also adds a REFUNDED event to the order at the same instant, so the
order, its return/case and the Finances refund all tell one story.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

from ebay_sandbox.clock import DAY, HOUR
from ebay_sandbox.ids import scramble, unscramble
from ebay_sandbox.world.model import Flow, FlowKind, FlowStep

RETURN_REASONS = (
    ("DEFECTIVE_ITEM", "SNAD"),
    ("NOT_AS_DESCRIBED", "SNAD"),
    ("ARRIVED_DAMAGED", "SNAD"),
    ("WRONG_SIZE", "REMORSE"),
    ("NO_LONGER_NEED", "REMORSE"),
)
DISPUTE_REASONS = ("ITEM_NOT_RECEIVED", "SIGNIFICANTLY_NOT_AS_DESCRIBED", "FRAUD")
_ID_DIGITS = 11

# Adds a refund event to the order at (about) ``at_ms``; returns the instant actually used.
AddRefund = Callable[[int, int, int], int]


def _between(r: random.Random, low: float, high: float) -> int:
    return int(r.uniform(low, high))


_PREFIX = {FlowKind.RETURN: "5", FlowKind.CASE: "6", FlowKind.INQUIRY: "7", FlowKind.DISPUTE: "8"}


def flow_id(seed: int, kind: FlowKind, number: int) -> str:
    """Numeric id of a flow; the leading digit tells the kinds apart."""
    value = scramble(number, _ID_DIGITS, f"{seed}/{kind.value.lower()}")
    return f"{_PREFIX[kind]}{value:0{_ID_DIGITS}d}"


def parse_flow_id(seed: int, kind: FlowKind, text: str) -> int | None:
    """The order number a flow id was made from, or None if it is not such an id."""
    if len(text) != _ID_DIGITS + 1 or not text.isdigit() or text[0] != _PREFIX[kind]:
        return None
    return unscramble(int(text[1:]), _ID_DIGITS, f"{seed}/{kind.value.lower()}")


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What the flows need to know about the order."""

    seed: int
    number: int
    paid_ms: int
    last_ship_ms: int
    line: int
    line_total_cents: int


def _case(ctx: OrderContext, opened: int, reason: str, r: random.Random, add: AddRefund) -> Flow:
    responded = opened + _between(r, HOUR, 3 * DAY)
    closed = responded + _between(r, 2 * DAY, 20 * DAY)
    buyer_wins = reason != "ITEM_NOT_RECEIVED" or r.random() < 0.7
    refund = add(closed, ctx.line, ctx.line_total_cents) if buyer_wins else None
    closed = refund if refund is not None else closed
    steps = (
        FlowStep(opened, "OPEN", opened + 3 * DAY),
        FlowStep(responded, "OPEN"),
        FlowStep(closed, "CLOSED"),
    )
    return Flow(
        FlowKind.CASE,
        flow_id(ctx.seed, FlowKind.CASE, ctx.number),
        ctx.line,
        reason,
        ctx.line_total_cents,
        steps,
        refund_ms=refund,
        outcome="BUYER_WON" if buyer_wins else "SELLER_WON",
    )


def _return(ctx: OrderContext, r: random.Random, add: AddRefund) -> list[Flow]:
    opened = ctx.last_ship_ms + _between(r, 3 * DAY, 26 * DAY)
    reason, _kind = r.choice(RETURN_REASONS)
    approved = opened + _between(r, 4 * HOUR, 3 * DAY)
    shipped = approved + _between(r, 12 * HOUR, 5 * DAY)
    delivered = shipped + _between(r, 2 * DAY, 5 * DAY)
    steps = [
        FlowStep(opened, "RETURN_REQUESTED", opened + 3 * DAY),
        FlowStep(approved, "READY_FOR_SHIPPING"),
        FlowStep(shipped, "ITEM_SHIPPED"),
        FlowStep(delivered, "ITEM_DELIVERED", delivered + 2 * DAY),
    ]
    return_id = flow_id(ctx.seed, FlowKind.RETURN, ctx.number)
    if r.random() < 0.15:  # the seller does not refund in time: the buyer escalates to a case
        escalated = delivered + _between(r, 2 * DAY + HOUR, 6 * DAY)
        case = _case(ctx, escalated, reason, r, add)
        steps += [FlowStep(escalated, "ESCALATED"), FlowStep(case.steps[-1].at_ms, "CLOSED")]
        flow = Flow(
            FlowKind.RETURN,
            return_id,
            ctx.line,
            reason,
            ctx.line_total_cents,
            tuple(steps),
            refund_ms=case.refund_ms,
        )
        return [flow, case]
    refund = add(delivered + _between(r, 6 * HOUR, 2 * DAY), ctx.line, ctx.line_total_cents)
    steps.append(FlowStep(refund, "CLOSED"))
    flow = Flow(
        FlowKind.RETURN,
        return_id,
        ctx.line,
        reason,
        ctx.line_total_cents,
        tuple(steps),
        refund_ms=refund,
    )
    return [flow]


def _inquiry(ctx: OrderContext, r: random.Random, add: AddRefund) -> list[Flow]:
    opened = ctx.last_ship_ms + _between(r, 8 * DAY, 30 * DAY)
    inquiry_id = flow_id(ctx.seed, FlowKind.INQUIRY, ctx.number)
    first = FlowStep(opened, "OPEN", opened + 3 * DAY)
    roll = r.random()
    amount = ctx.line_total_cents
    if roll < 0.5:  # the parcel turns up
        closed = FlowStep(opened + _between(r, 6 * HOUR, 5 * DAY), "CLOSED")
        return [Flow(FlowKind.INQUIRY, inquiry_id, ctx.line, "INR", amount, (first, closed))]
    if roll < 0.8:  # the seller refunds
        refund = add(opened + _between(r, 2 * HOUR, 3 * DAY), ctx.line, amount)
        steps = (first, FlowStep(refund, "CLOSED"))
        return [
            Flow(FlowKind.INQUIRY, inquiry_id, ctx.line, "INR", amount, steps, refund_ms=refund)
        ]
    escalated = opened + _between(r, 3 * DAY + HOUR, 8 * DAY)
    steps = (first, FlowStep(escalated, "CLOSED_WITH_ESCALATION"))
    inquiry = Flow(FlowKind.INQUIRY, inquiry_id, ctx.line, "INR", amount, steps)
    return [inquiry, _case(ctx, escalated, "ITEM_NOT_RECEIVED", r, add)]


def _dispute(ctx: OrderContext, r: random.Random) -> Flow:
    opened = ctx.paid_ms + _between(r, 10 * DAY, 60 * DAY)
    action = opened + _between(r, 6 * HOUR, 2 * DAY)
    contested = action + _between(r, 12 * HOUR, 7 * DAY)
    closed = contested + _between(r, 5 * DAY, 35 * DAY)
    steps = (
        FlowStep(opened, "OPEN"),
        FlowStep(action, "ACTION_NEEDED", action + 10 * DAY),
        FlowStep(contested, "OPEN"),
        FlowStep(closed, "CLOSED"),
    )
    return Flow(
        FlowKind.DISPUTE,
        flow_id(ctx.seed, FlowKind.DISPUTE, ctx.number),
        ctx.line,
        r.choice(DISPUTE_REASONS),
        ctx.line_total_cents,
        steps,
        outcome="SELLER_WON" if r.random() < 0.6 else "SELLER_LOST",
    )


def plan_flows(ctx: OrderContext, r: random.Random, add: AddRefund) -> list[Flow]:
    """Flows of a shipped order: ~3.5 % returns, ~1.5 % INR inquiries, ~0.4 % disputes."""
    flows: list[Flow] = []
    roll = r.random()
    if roll < 0.035:
        flows += _return(ctx, r, add)
    elif roll < 0.05:
        flows += _inquiry(ctx, r, add)
    if r.random() < 0.004:
        flows.append(_dispute(ctx, r))
    return flows
