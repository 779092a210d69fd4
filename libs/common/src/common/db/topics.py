"""Business events: the rule table that names a committed change in the operators' terms.

A rule does not add a row of its own: it puts its ``topic`` on the one ``ebay_events`` row that
records the change (created, changed or ended), inside the same statement as the upsert. So a
business event commits with its change or not at all, and since an unchanged row records no
event, a redelivered page cannot raise it twice. Rules are SQL conditions over eBay's own
fields: ``{new}`` is the entity's payload after the change, ``{old}`` before it (NULL when the
entity was just created). A rule that fires on a state fires on entering it, never on staying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from common.families import Family


class Topic(StrEnum):
    ORDER_READY_TO_SHIP = "ORDER_READY_TO_SHIP"
    RETURN_OPENED = "RETURN_OPENED"
    CASE_OPENED = "CASE_OPENED"
    PAYMENT_DISPUTE_OPENED = "PAYMENT_DISPUTE_OPENED"
    LISTING_ENDED = "LISTING_ENDED"


@dataclass(frozen=True)
class TopicRule:
    topic: Topic
    when: str

    def condition(self, new: str, old: str) -> str:
        return "(" + self.when.format(new=new, old=old) + ")"


_READY_TO_SHIP = (
    "{p}->>'orderPaymentStatus' = 'PAID' AND {p}->>'orderFulfillmentStatus' = 'NOT_STARTED'"
)

TOPIC_RULES: Mapping[Family, tuple[TopicRule, ...]] = {
    Family.ORDERS: (
        TopicRule(
            Topic.ORDER_READY_TO_SHIP,
            # Entering the state: an order created in it, or one that was not in it before.
            f"{_READY_TO_SHIP.format(p='{new}')} "
            f"AND NOT coalesce({_READY_TO_SHIP.format(p='{old}')}, false)",
        ),
    ),
    Family.RETURNS: (
        TopicRule(Topic.RETURN_OPENED, "{old} IS NULL AND {new}->>'state' <> 'CLOSED'"),
    ),
    Family.CASES: (
        TopicRule(
            Topic.CASE_OPENED, "{old} IS NULL AND {new}->>'caseStatusEnum' NOT LIKE 'CLOSED%'"
        ),
    ),
    Family.PAYMENT_DISPUTES: (
        TopicRule(
            Topic.PAYMENT_DISPUTE_OPENED,
            "{old} IS NULL AND {new}->>'paymentDisputeStatus' <> 'CLOSED'",
        ),
    ),
}

# Snapshot families: the topic of a row a complete snapshot no longer holds.
ENDED_TOPICS: Mapping[Family, Topic] = {Family.ACTIVE_INVENTORY: Topic.LISTING_ENDED}


def topic_expression(family: Family, new: str, old: str) -> str:
    """A SQL expression naming the first rule of ``family`` that the change satisfies, or NULL."""
    rules = TOPIC_RULES.get(family, ())
    if not rules:
        return "NULL"
    cases = " ".join(f"WHEN {rule.condition(new, old)} THEN '{rule.topic}'" for rule in rules)
    return f"CASE {cases} END"
