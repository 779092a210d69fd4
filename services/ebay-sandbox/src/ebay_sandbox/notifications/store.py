"""What the application has configured: alert config, destinations, subscriptions (REST) and
Platform Notification preferences (Trading). Plain state; the API modules validate."""

import uuid
from dataclasses import dataclass, field

from ebay_sandbox.clock import iso_ms


@dataclass
class Destination:
    """A ``Destination``; ``MARKED_DOWN`` is only ever set by the sender."""

    destination_id: str
    name: str
    status: str  # ENABLED | DISABLED | MARKED_DOWN
    endpoint: str
    verification_token: str
    # Sandbox time of the first unacknowledged delivery since the last acknowledged one.
    failing_since_ms: int | None = None

    def as_json(self) -> dict[str, object]:
        """The ``Destination`` resource."""
        return {
            "destinationId": self.destination_id,
            "name": self.name,
            "status": self.status,
            "deliveryConfig": {
                "endpoint": self.endpoint,
                "verificationToken": self.verification_token,
            },
        }


@dataclass
class Subscription:
    """A ``Subscription``: one topic and schema version, for one seller (USER topics) or for
    the application (``username`` None)."""

    subscription_id: str
    topic_id: str
    status: str  # ENABLED | DISABLED
    destination_id: str
    schema_version: str
    created_ms: int
    username: str | None

    def as_json(self) -> dict[str, object]:
        """The ``Subscription`` resource."""
        return {
            "subscriptionId": self.subscription_id,
            "topicId": self.topic_id,
            "status": self.status,
            "creationDate": iso_ms(self.created_ms),
            "destinationId": self.destination_id,
            "payload": {
                "format": "JSON",
                "schemaVersion": self.schema_version,
                "deliveryProtocol": "HTTPS",
            },
        }


@dataclass
class DeliveryUrl:
    """``ApplicationDeliveryPreferences/DeliveryURLDetails``."""

    name: str
    url: str
    status: str  # Enable | Disable


@dataclass
class TradingPreferences:
    """Platform Notification preferences: the application's and each user's."""

    application_url: str | None = None
    application_enable: str | None = None  # Enable | Disable
    alert_email: str | None = None
    alert_enable: str | None = None
    payload_version: str | None = None
    device_type: str | None = None
    delivery_urls: dict[str, DeliveryUrl] = field(default_factory=dict)
    # username -> event name -> Enable | Disable
    user_events: dict[str, dict[str, str]] = field(default_factory=dict)
    # username -> DeliveryURLName(s) bound to that user's token
    user_urls: dict[str, list[str]] = field(default_factory=dict)
    user_data: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def application_set(self) -> bool:
        """Whether any application-level preference was ever set."""
        return any(
            v is not None for v in (self.application_url, self.application_enable, self.alert_email)
        ) or bool(self.delivery_urls)

    def urls_for(self, username: str) -> list[str]:
        """Where ``username``'s notifications go: the delivery URLs bound to the user, else the
        ApplicationURL; nothing while the application is disabled."""
        if self.application_enable != "Enable":
            return []
        bound = [
            self.delivery_urls[name].url
            for name in self.user_urls.get(username, [])
            if name in self.delivery_urls and self.delivery_urls[name].status == "Enable"
        ]
        if bound:
            return bound
        return [self.application_url] if self.application_url else []

    def enabled(self, username: str, event: str) -> bool:
        """Whether ``username`` enabled ``event``."""
        return self.user_events.get(username, {}).get(event) == "Enable"


class NotificationStore:
    """Everything one application configured on the Notification API and Trading."""

    def __init__(self) -> None:
        self.alert_email: str | None = None
        self.destinations: dict[str, Destination] = {}
        self.subscriptions: dict[str, Subscription] = {}
        # (topic, username) -> subscription: routing a notification is one lookup.
        self._by_key: dict[tuple[str, str | None], Subscription] = {}
        self._users: dict[str, int] = {}  # username -> subscriptions held
        self.trading = TradingPreferences()

    def add_subscription(self, sub: Subscription) -> None:
        """Store a new subscription (one per topic and owner)."""
        self.subscriptions[sub.subscription_id] = sub
        self._by_key[(sub.topic_id, sub.username)] = sub
        if sub.username is not None:
            self._users[sub.username] = self._users.get(sub.username, 0) + 1

    def remove_subscription(self, sub: Subscription) -> None:
        """Forget a subscription."""
        del self.subscriptions[sub.subscription_id]
        del self._by_key[(sub.topic_id, sub.username)]
        if sub.username is not None:
            self._users[sub.username] -= 1
            if not self._users[sub.username]:
                del self._users[sub.username]

    @staticmethod
    def new_id() -> str:
        """A resource id (eBay's are opaque strings; the sandbox uses UUIDs)."""
        return str(uuid.uuid4())

    def destination_for(self, endpoint: str) -> Destination | None:
        """The destination of ``endpoint``, if one exists."""
        return next((d for d in self.destinations.values() if d.endpoint == endpoint), None)

    def subscription_for(self, topic_id: str, username: str | None) -> Subscription | None:
        """The subscription of ``topic_id`` for ``username`` (None: the application's)."""
        return self._by_key.get((topic_id, username))

    def live_subscription(self, topic_id: str, username: str | None) -> Subscription | None:
        """The subscription a notification of ``topic_id`` goes out on, when enabled and its
        destination enabled."""
        sub = self.subscription_for(topic_id, username)
        if sub is None or sub.status != "ENABLED":
            return None
        destination = self.destinations.get(sub.destination_id)
        return sub if destination is not None and destination.status == "ENABLED" else None

    def watched_users(self) -> set[str]:
        """Sellers with any subscription or Trading event enabled (their changes are tracked)."""
        users = set(self._users)
        users |= {
            u for u, events in self.trading.user_events.items() if "Enable" in events.values()
        }
        return users
