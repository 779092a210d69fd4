"""The REST notification topics the sandbox serves and sends (fact sheet notifications §1).

One table: getTopics/getTopic render it, createSubscription checks its scopes and payloads, the
sender routes by its ``scope`` (USER: the seller's subscription; APPLICATION: the app's).
"""

from dataclasses import dataclass

SCOPE_ROOT = "https://api.ebay.com/oauth/api_scope"


def _scopes(*names: str) -> tuple[str, ...]:
    return tuple(f"{SCOPE_ROOT}/{n}" if n else SCOPE_ROOT for n in names)


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic as ``getTopic`` returns it."""

    topic_id: str
    description: str
    context: str  # BUY | SELL | COMMERCE | DEVELOPER
    scope: str  # APPLICATION | USER
    authorization_scopes: tuple[str, ...]  # any one of them is enough
    schema_versions: tuple[str, ...] = ("1.0",)
    status: str = "ENABLED"
    filterable: bool = False

    @property
    def user_scoped(self) -> bool:
        """Subscribed per seller with that seller's token."""
        return self.scope == "USER"

    def as_json(self) -> dict[str, object]:
        """The ``Topic`` resource."""
        return {
            "topicId": self.topic_id,
            "description": self.description,
            "status": self.status,
            "context": self.context,
            "scope": self.scope,
            "filterable": self.filterable,
            "authorizationScopes": list(self.authorization_scopes),
            "supportedPayloads": [
                {
                    "format": ["JSON"],
                    "schemaVersion": version,
                    "deliveryProtocol": "HTTPS",
                    "deprecated": False,
                }
                for version in self.schema_versions
            ],
        }


# Scopes, contexts and versions from the contract files (SH-GT); the two APPLICATION topics'
# scope and AUTHORIZATION_REVOCATION's data are UNCONFIRMED (fact sheet §1 "Other topics").
TOPICS: dict[str, Topic] = {
    t.topic_id: t
    for t in (
        Topic(
            "ORDER_CONFIRMATION",
            "Notify seller when the buyer completes checkout and payment clears",
            "COMMERCE",
            "USER",
            _scopes("sell.fulfillment", "sell.fulfillment.readonly"),
            ("1.0", "1.1"),
        ),
        Topic(
            "ITEM_MARKED_SHIPPED",
            "Notify user that their item was marked shipped",
            "COMMERCE",
            "USER",
            _scopes("commerce.shipping"),
        ),
        Topic(
            "NEW_MESSAGE",
            "Notify user when a new message arrives",
            "DEVELOPER",
            "USER",
            _scopes("commerce.message"),
        ),
        Topic(
            "ORDER_RETURN_ACTIVITY",
            "Return activity on a seller's order; replaces Trading ReturnClosed, ReturnCreated, "
            "ReturnDelivered, ReturnEscalated, ReturnRefundOverdue, ReturnSellerInfoOverdue, "
            "ReturnShipped, ReturnWaitingForSellerInfo",
            "COMMERCE",
            "USER",
            _scopes("sell.return.read", "sell.return"),
        ),
        Topic(
            "ORDER_CANCELLATION_ACTIVITY",
            "Cancellation activity on a seller's order; replaces Trading BuyerCancelRequested",
            "COMMERCE",
            "USER",
            _scopes("sell.cancellation.read", "sell.cancellation"),
        ),
        Topic(
            "ORDER_INQUIRY_ACTIVITY",
            "Item-not-received inquiry activity on a seller's order; replaces Trading EBP* events",
            "COMMERCE",
            "USER",
            _scopes("sell.inquiry.read", "sell.inquiry"),
        ),
        Topic(
            "MARKETPLACE_ACCOUNT_DELETION",
            "Notify developer when a user's eBay account is deleted",
            "DEVELOPER",
            "APPLICATION",
            _scopes(""),
        ),
        Topic(
            "AUTHORIZATION_REVOCATION",
            "Notify developer when a user revokes the application's access",
            "DEVELOPER",
            "APPLICATION",
            _scopes(""),
        ),
    )
}
SUBSCRIPTION_SCOPE = f"{SCOPE_ROOT}/commerce.notification.subscription"
SUBSCRIPTION_READ_SCOPES = frozenset({SUBSCRIPTION_SCOPE, f"{SUBSCRIPTION_SCOPE}.readonly"})
