"""getOrders query semantics: filter parsing, validation and order selection."""

from dataclasses import dataclass

from ebay_sandbox.clock import DAY
from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.paging import parse_timestamp
from ebay_sandbox.world.order_state import OrderRecord
from ebay_sandbox.world.orders import MAX_SPAN_MS
from ebay_sandbox.world.seller import SellerWorld

DOMAIN = "API_FULFILLMENT"
MAX_AGE_MS = 730 * DAY  # getOrders never returns orders older than two years
DEFAULT_WINDOW_MS = 90 * DAY  # no date filter: orders created in the last 90 days
MAX_RANGE_YEARS = 2
_STATUS_SETS = (
    frozenset({"NOT_STARTED", "IN_PROGRESS"}),
    frozenset({"FULFILLED", "IN_PROGRESS"}),
)


def bad_request(error_id: int, message: str, **parameters: str) -> EbayApiError:
    """400 ``ErrorDetailV3`` in the API_FULFILLMENT domain."""
    return EbayApiError(
        400, [error_entry(error_id, DOMAIN, "REQUEST", message, message, parameters)]
    )


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive millisecond bounds; None means open."""

    start_ms: int | None
    end_ms: int | None

    def contains(self, ms: int) -> bool:
        """Whether ``ms`` is within the bounds."""
        return (self.start_ms is None or ms >= self.start_ms) and (
            self.end_ms is None or ms <= self.end_ms
        )


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Parsed ``filter`` parameter."""

    creation: Range | None = None
    modified: Range | None = None
    statuses: frozenset[str] | None = None


def _parse_range(name: str, value: str, now_ms: int) -> Range:
    if not (value.startswith("[") and value.endswith("]")) or ".." not in value:
        raise bad_request(30800, f"Invalid filter value {value} for filter {name}", filter=name)
    start_text, _, end_text = value[1:-1].partition("..")
    if not start_text and not end_text:
        raise bad_request(30820, "Start date is missing", filter=name)
    try:
        start = parse_timestamp(start_text, round_up=True) if start_text else None
        end = parse_timestamp(end_text) if end_text else None
    except ValueError as exc:
        raise bad_request(30810, "Invalid date format", filter=name) from exc
    if (start is not None and start > now_ms) or (end is not None and end > now_ms):
        raise bad_request(30850, "Start and end dates can't be in the future", filter=name)
    if start is not None and end is not None:
        if start > end:
            raise bad_request(30840, "Start date should be before end date", filter=name)
        if end - start > MAX_AGE_MS:
            message = (
                "Time range between start date and end date must be within "
                f"'{MAX_RANGE_YEARS}' years."
            )
            raise bad_request(30830, message, filter=name)
    return Range(start, end)


def _parse_statuses(value: str) -> frozenset[str]:
    statuses = frozenset(value[1:-1].split("|")) if value.startswith("{") else frozenset()
    if not value.endswith("}") or statuses not in _STATUS_SETS:
        message = f"Invalid filter value {value} for filter orderfulfillmentstatus"
        raise bad_request(30800, message, filter="orderfulfillmentstatus")
    return statuses


def parse_filter(raw: str | None, now_ms: int) -> OrderFilter:
    """Parse ``filter``; raises :class:`EbayApiError` (400) for anything eBay would reject."""
    creation = modified = None
    statuses = None
    for criterion in (raw or "").split(","):
        if not criterion.strip():
            continue
        name, sep, value = criterion.strip().partition(":")
        if name == "creationdate" and sep:
            creation = _parse_range(name, value, now_ms)
        elif name == "lastmodifieddate" and sep:
            modified = _parse_range(name, value, now_ms)
        elif name == "orderfulfillmentstatus" and sep:
            statuses = _parse_statuses(value)
        else:
            raise bad_request(30700, f"Invalid filter name: {name}", filter=name)
    # eBay: when both date criteria are present only creationdate is used.
    return OrderFilter(creation, None if creation is not None else modified, statuses)


Selected = list[tuple[OrderRecord, int]]


def _sort(selected: Selected) -> Selected:
    # Newest first; orderId breaks ties so paging is stable.
    return sorted(selected, key=lambda item: (-item[0].plan.created_ms, item[0].order_id))


def select_orders(world: SellerWorld, flt: OrderFilter, horizon: Horizon) -> Selected:
    """Orders matching ``flt`` at ``horizon.now_ms``, each with its applied-event count."""
    now_ms = horizon.now_ms
    oldest = now_ms - MAX_AGE_MS
    low, high = oldest, now_ms
    if flt.creation is not None:
        low = max(low, flt.creation.start_ms if flt.creation.start_ms is not None else low)
        high = min(high, flt.creation.end_ms if flt.creation.end_ms is not None else high)
    elif flt.modified is not None:
        # Nothing changes later than MAX_SPAN after creation: older orders cannot match.
        if flt.modified.start_ms is not None:
            low = max(low, flt.modified.start_ms - MAX_SPAN_MS)
        if flt.modified.end_ms is not None:
            high = min(high, flt.modified.end_ms)
    else:
        low = max(low, now_ms - DEFAULT_WINDOW_MS)
    window = now_ms - low  # a lower bound that follows "now" lets old orders drop out
    orders = world.orders
    selected: Selected = []
    indexes = orders.between(low, high)
    if len(indexes):
        horizon.change_at(orders.created_ms(indexes[0]) + window + 1)
    if high == now_ms:
        horizon.change_at(orders.next_after(now_ms))
    for index in indexes:
        record = orders.get(index)
        horizon.changes_at(record.event_times)
        applied = record.applied(now_ms)
        if flt.modified is not None and not flt.modified.contains(record.last_modified_ms(applied)):
            continue
        if flt.statuses is not None and record.fulfillment_status(applied) not in flt.statuses:
            continue
        selected.append((record, applied))
    return _sort(selected)


def select_by_ids(
    world: SellerWorld, order_ids: list[str], now_ms: int
) -> tuple[Selected, list[str]]:
    """Visible orders among ``order_ids`` (sorted) and the ids that were not found."""
    found: Selected = []
    missing: list[str] = []
    for order_id in dict.fromkeys(order_ids):
        record = world.find_order(order_id, now_ms)
        if record is None or record.plan.created_ms < now_ms - MAX_AGE_MS:
            missing.append(order_id)
        else:
            found.append((record, record.applied(now_ms)))
    return _sort(found), missing
