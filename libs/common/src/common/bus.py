"""The NATS broker every service builds the same way."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal, TypedDict

from faststream import AckPolicy
from faststream._internal.context import Context as ContextField
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsMessage as NatsDelivery
from opentelemetry.sdk.trace import TracerProvider

from common.settings import NatsSettings
from common.telemetry import telemetry_middleware


def build_broker(
    service: str, settings: NatsSettings, tracer_provider: TracerProvider
) -> NatsBroker:
    """A broker with tracing, reconnects forever and a safe default ack policy.

    FastStream's NATS default rejects (TERM) on any exception, which deletes a work-queue
    message with no retry (STACK-NOTES §1.3); NACK_ON_ERROR hands it back instead.
    """
    return NatsBroker(
        settings.url,
        name=service,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_reconnect_attempts=-1,
        inbox_prefix=settings.inbox,
        # "Received"/"Processed" for every message is debug detail, not an operator's log.
        log_level=logging.DEBUG,
        middlewares=[telemetry_middleware(tracer_provider)],
    )


class DurableSubscription(TypedDict):
    stream: JStream
    durable: str
    pull_sub: PullSub[Literal[False]]  # one message at a time to the handler
    ack_policy: AckPolicy
    inbox_prefix: bytes


def durable_subscription(
    stream: str, durable: str, settings: NatsSettings, *, batch_size: int = 1
) -> DurableSubscription:
    """A subscriber's binding to a stream and durable consumer of ``common.streams``: pulled, a
    failed message handed back (NACK), and neither declared here (``common.streams`` says why).
    Spread into ``subscriber(subjects, **durable_subscription(...))``."""
    return DurableSubscription(
        stream=JStream(stream, declare=False),
        durable=durable,
        pull_sub=PullSub(batch_size=batch_size, timeout=5.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # FastStream would pull on the shared "_INBOX." whatever the connection's prefix.
        inbox_prefix=f"{settings.inbox}.".encode(),
    )


class LoopContext(ContextField):
    """FastStream's ``Context`` argument, resolved on the event loop.

    fast_depends runs a custom field's synchronous ``use`` through ``run_in_threadpool``, so
    every ``Context`` argument of a handler (``NatsMessage`` is one) cost a worker-thread hop
    per message: under ``make bench-scale`` the writer spent 6 % of its CPU in that hop's
    ``Condition.notify`` alone (issue 12). Looking a name up in the context is a dictionary
    read; it needs no thread.
    """

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        resolved: dict[str, Any] = super().use(**kwargs)
        return resolved


# Handler arguments: the delivery being handled, and the broker.
Delivery = Annotated[NatsDelivery, LoopContext("message")]
Broker = Annotated[NatsBroker, LoopContext("broker")]
