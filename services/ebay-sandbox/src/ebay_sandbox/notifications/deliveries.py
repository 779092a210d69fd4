"""The sender's values: what counts as an acknowledgement, the faults it applies, one delivery
on its way, the counters it keeps, and the changes an account's end sends."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from ebay_sandbox.notifications.changes import Change, ChangeKind
from ebay_sandbox.notifications.payloads import RestNotification, TradingNotification
from ebay_sandbox.world.model import Seller

REST_ACKS = frozenset({200, 201, 202, 204})  # fact sheet §5 (MAD)
TRADING_ACKS = frozenset({200})  # fact sheet §7.5 (PN: "HTTP 200 OK")
LISTING_EVENTS = frozenset({"ItemListed", "ItemSold", "ItemUnsold", "ItemClosed"})
COUNTERS = (
    "generated",
    "dropped",
    "delayed",
    "duplicated",
    "reordered",
    "attempts",
    "delivered",
    "retried",
    "failed",
    "cancelled",
)


@dataclass
class PushFaults:
    """Shares (0..1) of notifications dropped, delayed, duplicated and reordered."""

    drop: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 2.0
    duplicate: float = 0.0
    reorder: float = 0.0

    def as_json(self) -> dict[str, float]:
        """For the control endpoint."""
        return {
            "drop": self.drop,
            "delay": self.delay,
            "delay_seconds": self.delay_seconds,
            "duplicate": self.duplicate,
            "reorder": self.reorder,
        }


@dataclass
class Delivery:
    """One notification on its way; attempts share its ``notification_id``."""

    channel: str  # rest | trading
    topic: str  # REST topic or Trading event name
    username: str | None
    url: str
    notification_id: str
    rest: RestNotification | None = None
    trading: TradingNotification | None = None
    schema_version: str = "1.0"
    subscription_id: str | None = None
    test: bool = False  # testSubscription: goes out whatever the subscription's status
    attempt: int = 1


@dataclass
class PushStats:
    """Counters per topic (or Trading event), and a log of recent attempts."""

    topics: dict[str, Counter[str]] = field(default_factory=dict)
    log: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=5000))

    def count(self, topic: str, what: str, n: int = 1) -> None:
        """Add ``n`` to one counter."""
        self.topics.setdefault(topic, Counter())[what] += n

    def snapshot(self) -> dict[str, object]:
        """Per topic and in total, every counter present (zeros included)."""
        totals: Counter[str] = Counter()
        per_topic = {}
        for topic, counter in sorted(self.topics.items()):
            per_topic[topic] = {name: counter[name] for name in COUNTERS}
            totals.update(counter)
        return {"topics": per_topic, "totals": {name: totals[name] for name in COUNTERS}}


def account_deleted(seller: Seller, at_ms: int) -> Change:
    """The change behind MARKETPLACE_ACCOUNT_DELETION."""
    return Change(ChangeKind.ACCOUNT_DELETED, at_ms, seller)


def authorization_revoked(seller: Seller, at_ms: int) -> Change:
    """The change behind AUTHORIZATION_REVOCATION / TokenRevocation."""
    return Change(ChangeKind.AUTHORIZATION_REVOKED, at_ms, seller)
