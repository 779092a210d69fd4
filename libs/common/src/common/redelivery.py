"""When to hand a failed message back to JetStream, and how long it waits.

A NAK without a delay is redelivered at once and the consumer's backoff does not apply
(STACK-NOTES §1.3): ten deliveries burn in a second. Every failure therefore names a delay.
"""

from __future__ import annotations

from faststream.nats import NatsMessage

MAX_DELAY_SECONDS = 600.0


def retry_delay(
    attempt: int, retry_after: float | None = None, cap: float = MAX_DELAY_SECONDS
) -> float:
    """Seconds before the next delivery: eBay's Retry-After if sent, else 2^attempt, capped."""
    if retry_after is not None:
        return min(cap, max(1.0, retry_after))
    return min(cap, float(2 ** min(attempt, 10)))


def delivery_attempt(msg: NatsMessage) -> int:
    """Which delivery of the message this is (1 for the first)."""
    return msg.raw_message.metadata.num_delivered or 1
