"""The NATS broker every service builds the same way."""

from __future__ import annotations

import logging

from faststream import AckPolicy
from faststream.nats import NatsBroker
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
