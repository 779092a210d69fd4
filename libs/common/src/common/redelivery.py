"""When to hand a failed message back to JetStream, and how long it waits.

A NAK without a delay is redelivered at once and the consumer's backoff does not apply
(STACK-NOTES §1.3): ten deliveries burn in a second. Every failure therefore names a delay.
"""

from __future__ import annotations

from faststream.nats import NatsMessage

MAX_DELAY_SECONDS = 600.0
# eBay's own word on when to come back (a Retry-After, or the time until a daily quota resets at
# midnight US/Pacific: up to 25 h on the day the clocks go back) is honoured as it is; this bound
# only stops a nonsense Retry-After from parking a message for days.
MAX_RETRY_AFTER_SECONDS = 25 * 3600.0


def retry_delay(
    attempt: int, retry_after: float | None = None, cap: float = MAX_DELAY_SECONDS
) -> float:
    """Seconds before the next delivery.

    eBay's Retry-After (or an ``EbayQuotaError``'s time until the quota resets) when known, at
    least 1 s and at most ``MAX_RETRY_AFTER_SECONDS`` — not ``cap``: waiting less than eBay
    asked only earns another refusal. Otherwise 2^attempt seconds, at most ``cap``.
    """
    if retry_after is not None:
        return min(MAX_RETRY_AFTER_SECONDS, max(1.0, retry_after))
    return min(cap, float(2 ** min(attempt, 10)))


def delivery_attempt(msg: NatsMessage) -> int:
    """Which delivery of the message this is (1 for the first)."""
    return msg.raw_message.metadata.num_delivered or 1
