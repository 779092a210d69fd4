"""Injected failures: the next API calls of a seller (optionally of one family) fail on purpose."""

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from ebay_sandbox.clock import from_ms, to_ms


class ApiStyle(StrEnum):
    """How an API talks: each signals the same failure its own way."""

    REST = "rest"  # JSON, ErrorDetailV3 errors
    POST_ORDER = "post_order"  # JSON, {"error": [...]} errors, IAF auth
    TRADING = "trading"  # XML, HTTP 200 with Ack=Failure


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An eBay method as the sandbox serves it; ``families`` are the fault scopes it answers to."""

    name: str
    families: frozenset[str]
    style: ApiStyle
    paged: bool = False
    error_id: int = 0  # the API's internal-error errorId and domain (REST only)
    domain: str = ""

    @property
    def is_json(self) -> bool:
        """JSON (REST or Post-Order) rather than XML."""
        return self.style is not ApiStyle.TRADING


# Pipeline family names (common.families) plus the ground-truth names that refine them.
FAMILIES = frozenset(
    {
        "orders",
        "transactions",
        "finances",
        "payouts",
        "offers",
        "inventory_items",
        "messages",
        "active_inventory",
        "active_listings",
        "purchases",
        "cases",
        "inquiries",
        "returns",
        "payment_disputes",
        "identity",
        "keys",
        "notifications",
    }
)


class FaultKind(StrEnum):
    """Supported failure modes."""

    HTTP_429 = "http_429"
    RETRY_AFTER_429 = "retry_after_429"
    HTTP_500 = "http_500"
    HTTP_5XX = "http_5xx"
    QUOTA_518 = "quota_518"
    QUOTA_2001 = "quota_2001"
    LATENCY = "latency"
    TIMEOUT = "timeout"
    DROP_CONNECTION = "drop_connection"
    EXPIRED_TOKEN = "expired_token"
    REVOKED_TOKEN = "revoked_token"
    MALFORMED_JSON = "malformed_json"
    MALFORMED_XML = "malformed_xml"
    OVERSIZED_PAGE = "oversized_page"


_JSON_ONLY = frozenset({FaultKind.MALFORMED_JSON, FaultKind.QUOTA_2001})
_XML_ONLY = frozenset({FaultKind.MALFORMED_XML, FaultKind.QUOTA_518})
QUOTA_KINDS = frozenset({FaultKind.QUOTA_518, FaultKind.QUOTA_2001})
DEFAULT_DELAY_S = {FaultKind.LATENCY: 2.0, FaultKind.TIMEOUT: 300.0}


class FaultRequest(BaseModel):
    """Body of ``POST /sandbox/faults``."""

    username: str
    kind: FaultKind
    family: str | None = None
    # Calls affected; quota faults without a count last until the daily quota resets.
    count: int | None = Field(default=None, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    status: int = Field(default=500, ge=500, le=599)
    delay_seconds: float | None = Field(default=None, ge=0, le=3600)
    page_items: int = Field(default=1000, ge=1, le=100_000)

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str | None) -> str | None:
        if value is not None and value not in FAMILIES:
            raise ValueError(f"unknown family {value!r}; choose from {sorted(FAMILIES)}")
        return value


@dataclass
class Fault:
    """A queued fault: ``remaining`` calls, or every call until ``until_ms``."""

    kind: FaultKind
    family: str | None
    remaining: int | None
    until_ms: int | None
    retry_after: int | None = None
    status: int = 500
    delay_seconds: float | None = None
    page_items: int = 1000

    def matches(self, endpoint: Endpoint) -> bool:
        """Whether this fault applies to a call of ``endpoint``."""
        if self.family is not None and self.family not in endpoint.families:
            return False
        if self.kind in _JSON_ONLY and not endpoint.is_json:
            return False
        if self.kind in _XML_ONLY and endpoint.is_json:
            return False
        return self.kind is not FaultKind.OVERSIZED_PAGE or endpoint.paged

    @property
    def delay(self) -> float:
        """Seconds to wait for latency and timeout faults."""
        return self.delay_seconds if self.delay_seconds is not None else DEFAULT_DELAY_S[self.kind]


def quota_reset_ms(now_ms: int) -> int:
    """Next midnight US Pacific (eBay's daily quota window), in sandbox time."""
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo("America/Los_Angeles")
        local = from_ms(now_ms).astimezone(zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
        return to_ms(midnight)
    except (ImportError, KeyError, OSError):  # no time zone database: Pacific Standard Time
        return ((now_ms - 8 * 3_600_000) // 86_400_000 + 1) * 86_400_000 + 8 * 3_600_000


class FaultStore:
    """Per-seller FIFO of faults; a call consumes one unit of the first fault that matches it."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def add(self, request: FaultRequest, now_ms: int) -> None:
        """Queue the fault described by ``request``."""
        until = None
        if request.count is None and request.kind in QUOTA_KINDS:
            until = quota_reset_ms(now_ms)
        fault = Fault(
            kind=request.kind,
            family=request.family,
            remaining=None if until is not None else (request.count or 1),
            until_ms=until,
            retry_after=request.retry_after,
            status=request.status,
            delay_seconds=request.delay_seconds,
            page_items=request.page_items,
        )
        self._queues.setdefault(request.username, deque()).append(fault)

    def take(self, username: str, endpoint: Endpoint, now_ms: int) -> Fault | None:
        """Consume one failure for this call if a pending fault matches it."""
        queue = self._queues.get(username)
        if not queue:
            return None
        for fault in list(queue):
            if fault.until_ms is not None and now_ms >= fault.until_ms:
                queue.remove(fault)
                continue
            if not fault.matches(endpoint):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.remove(fault)
            return fault
        return None

    def pending(self, username: str) -> int:
        """How many calls of ``username`` will still fail (a time-bound fault counts once)."""
        return sum(f.remaining or 1 for f in self._queues.get(username, ()))

    def describe(self) -> list[dict[str, object]]:
        """Every pending fault."""
        return [
            {
                "username": username,
                "kind": f.kind.value,
                "family": f.family,
                "remaining": f.remaining,
                "until_ms": f.until_ms,
            }
            for username, queue in self._queues.items()
            for f in queue
        ]

    def clear(self, username: str | None = None) -> None:
        """Drop pending faults of one seller, or of all sellers."""
        if username is None:
            self._queues.clear()
        else:
            self._queues.pop(username, None)
