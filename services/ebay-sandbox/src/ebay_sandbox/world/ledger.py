"""Money movements of a seller (Finances API): transactions derived from orders, daily payouts.

Every sale, refund and eBay shipping label of an order is a transaction; BUSINESS sellers also
pay a monthly store subscription. A transaction counts towards the payout of the first daily
payout instant at or after it becomes available (sales: at the first shipment). A payout day
whose net is not positive has no payout: its transactions complete without a payout id (as if
settled against the seller's payment method on file).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from ebay_sandbox.clock import DAY, HOUR, from_ms, to_ms
from ebay_sandbox.ids import rng, scramble, unscramble
from ebay_sandbox.world.model import EventKind, OrderPlan, Seller

STORE_FEE_CENTS = 2795
_DAYS = 100_000  # payout-id space per seller: days since the epoch


def marketplace_fee_cents(total_cents: int) -> int:
    """Final value fee: 13.25 % plus a fixed 0.30 per order."""
    return round(total_cents * 0.1325) + 30


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One monetary transaction; ``cents`` is positive, ``booking`` gives the direction."""

    kind: str  # SALE, REFUND, SHIPPING_LABEL, NON_SALE_CHARGE
    transaction_id: str
    order_index: int | None
    date_ms: int
    available_ms: int
    cents: int
    booking: str  # CREDIT or DEBIT
    fee_cents: int = 0
    basis_cents: int = 0

    @property
    def signed_cents(self) -> int:
        """Effect on the seller's balance."""
        return self.cents if self.booking == "CREDIT" else -self.cents


@dataclass(frozen=True, slots=True)
class PayoutPlan:
    """A daily payout and its status timeline."""

    payout_id: str
    day: int
    initiated_ms: int
    failed_ms: int | None
    succeeded_ms: int
    cents: int
    count: int

    @property
    def change_times(self) -> tuple[int, ...]:
        """Instants the payout changes."""
        middle = (self.failed_ms,) if self.failed_ms is not None else ()
        return (self.initiated_ms, *middle, self.succeeded_ms)

    def status(self, now_ms: int) -> str:
        """``payoutStatus`` at ``now_ms`` (the payout must have been initiated)."""
        if now_ms >= self.succeeded_ms:
            return "SUCCEEDED"
        if self.failed_ms is not None and now_ms >= self.failed_ms:
            return "RETRYABLE_FAILED"
        return "INITIATED"


class PayoutSchedule:
    """Daily payout instants of one seller (a fixed hour of the UTC day)."""

    def __init__(self, seller: Seller) -> None:
        self.offset_ms = (2 + seller.index % 5) * HOUR

    def instant(self, day: int) -> int:
        """Payout instant of ``day`` (days since the epoch)."""
        return day * DAY + self.offset_ms

    def day_for(self, available_ms: int) -> int:
        """The payout day of money available at ``available_ms``."""
        return -((self.offset_ms - available_ms) // DAY)


def order_entries(seed: int, plan: OrderPlan) -> list[LedgerEntry]:
    """Transactions of one order."""
    paid = plan.event_at(EventKind.PAID)
    if paid is None:
        return []
    shipped = plan.event_at(EventKind.SHIPPED)
    cancelled = plan.event_at(EventKind.CANCELLED)
    total = plan.total_cents
    fee = marketplace_fee_cents(total)
    available = shipped.at_ms if shipped else (cancelled.at_ms if cancelled else paid.at_ms)
    entries = [
        LedgerEntry(
            "SALE",
            plan.order_id,
            plan.index,
            paid.at_ms,
            available,
            total - fee,
            "CREDIT",
            fee_cents=fee,
            basis_cents=total,
        )
    ]
    for event in plan.events:
        if event.kind in (EventKind.REFUNDED, EventKind.CANCELLED):
            entries.append(
                LedgerEntry(
                    "REFUND",
                    event.ref,
                    plan.index,
                    event.at_ms,
                    event.at_ms,
                    event.amount_cents,
                    "DEBIT",
                )
            )
    if plan.label_cents and shipped is not None:
        label_id = f"9{scramble(plan.seller.index * 10**7 + plan.index, 11, f'{seed}/label'):011d}"
        entries.append(
            LedgerEntry(
                "SHIPPING_LABEL",
                label_id,
                plan.index,
                shipped.at_ms,
                shipped.at_ms,
                plan.label_cents,
                "DEBIT",
            )
        )
    return entries


def month_start_ms(moment_ms: int) -> int:
    """First instant of the UTC month of ``moment_ms``."""
    d = from_ms(moment_ms)
    return to_ms(datetime(d.year, d.month, 1, tzinfo=UTC))


def next_month_ms(month_ms: int) -> int:
    """First instant of the following month."""
    d = from_ms(month_ms)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return to_ms(datetime(year, month, 1, tzinfo=UTC))


def store_charges(seed: int, seller: Seller, low_ms: int, high_ms: int) -> list[LedgerEntry]:
    """Monthly store subscriptions of a BUSINESS seller charged in ``[low_ms, high_ms]``."""
    if seller.account_type != "BUSINESS":
        return []
    entries = []
    month = month_start_ms(low_ms)
    while month <= high_ms:
        at = month + 6 * HOUR
        if low_ms <= at <= high_ms and at >= seller.registration_ms:
            number = seller.index * _DAYS + at // DAY
            charge_id = f"8{scramble(number, 11, f'{seed}/charge'):011d}"
            entries.append(
                LedgerEntry("NON_SALE_CHARGE", charge_id, None, at, at, STORE_FEE_CENTS, "DEBIT")
            )
        month = next_month_ms(month)
    return entries


def payout_id(seed: int, seller_index: int, day: int) -> str:
    """Numeric payout id (decodable back to seller and day)."""
    return f"5{scramble(seller_index * _DAYS + day, 9, f'{seed}/payout'):09d}"


def parse_payout_id(seed: int, text: str) -> tuple[int, int] | None:
    """(seller index, payout day) of a payout id, or None."""
    if len(text) != 10 or not text.isdigit() or text[0] != "5":
        return None
    return divmod(unscramble(int(text[1:]), 9, f"{seed}/payout"), _DAYS)


def make_payout(
    seed: int, seller: Seller, schedule: PayoutSchedule, day: int, entries: list[LedgerEntry]
) -> PayoutPlan | None:
    """The payout of ``day`` for these entries, or None when the net is not positive."""
    net = sum(e.signed_cents for e in entries)
    if not entries or net <= 0:
        return None
    r = rng(seed, "payout", seller.index, day)
    initiated = schedule.instant(day)
    failed = initiated + DAY if r.random() < 0.02 else None
    succeeded = (failed + 2 * DAY) if failed else initiated + int(r.uniform(DAY, 3 * DAY))
    return PayoutPlan(
        payout_id(seed, seller.index, day), day, initiated, failed, succeeded, net, len(entries)
    )


def transaction_state(
    entry: LedgerEntry, payout: PayoutPlan | None, payout_at_ms: int, now_ms: int
) -> tuple[str, str | None]:
    """(``transactionStatus``, ``payoutId``) of an existing transaction at ``now_ms``."""
    if entry.kind == "SALE" and now_ms < entry.available_ms:
        return "FUNDS_PROCESSING", None
    if now_ms < payout_at_ms:
        return "FUNDS_AVAILABLE_FOR_PAYOUT", None
    if payout is None:
        return "COMPLETED", None
    if now_ms < payout.succeeded_ms:
        return "PAYOUT", payout.payout_id
    return "COMPLETED", payout.payout_id


def entry_change_times(
    entry: LedgerEntry, payout: PayoutPlan | None, payout_at_ms: int
) -> tuple[int, ...]:
    """Instants an entry's visible state changes."""
    times = [entry.date_ms, entry.available_ms, payout_at_ms]
    if payout is not None:
        times.append(payout.succeeded_ms)
    return tuple(times)
