"""The fetcher's handler on FastStream's in-memory broker: what a failed window leaves behind.

No JetStream here (acks, redelivery and dedup are the real-broker tests' business): only what
the handler publishes for each kind of failure, decided by ``common.failures``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from faststream.nats import JStream, NatsBroker, TestNatsBroker

from common.ebay.errors import EbayQuotaError, EbayRequestError, EbayTransientError
from common.families import Family
from common.messages import DeadLetter, SyncWindow, Trigger, WindowFailed, encoded
from common.streams import DLQ_STREAM, DLQ_SUBJECTS, FETCHER_DURABLE, WINDOWS_STREAM
from fetcher.handlers import build_router
from fetcher.settings import FetcherSettings

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def a_window() -> SyncWindow:
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=7,
        family=Family.ORDERS,
        window_from=NOW - timedelta(hours=1),
        window_to=NOW,
        trigger=Trigger.SCHEDULE,
        issued_at=NOW,
    )


def delivery(n: int) -> str:
    """The reply subject JetStream gives the n-th delivery (its metadata: STACK-NOTES §1.7)."""
    return f"$JS.ACK.{WINDOWS_STREAM}.{FETCHER_DURABLE}.{n}.12.34.1764547200000000000.0"


class Failing:
    """A window fetcher that fails the way it is told to."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.windows: list[SyncWindow] = []

    async def fetch(self, window: SyncWindow) -> int:
        self.windows.append(window)
        raise self.exc


async def handle(exc: Exception, attempt: int) -> tuple[list[DeadLetter], list[WindowFailed]]:
    """Deliver one window whose fetch fails with ``exc``: the letters and events it caused."""
    broker = NatsBroker()
    broker.include_router(build_router(FetcherSettings()))
    letters: list[DeadLetter] = []
    failures: list[WindowFailed] = []

    @broker.subscriber(DLQ_SUBJECTS, stream=JStream(DLQ_STREAM, declare=False))
    async def dead_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    @broker.subscriber(f"{WindowFailed.SUBJECT_PREFIX}.>")
    async def failed(event: WindowFailed) -> None:
        failures.append(event)

    window = a_window()
    fetcher = Failing(exc)
    async with TestNatsBroker(broker) as test:
        test.context.set_global("window_fetcher", fetcher)
        await test.publish(encoded(window), window.subject, reply_to=delivery(attempt))
    assert fetcher.windows == [window]
    return letters, failures


async def test_a_request_ebay_refuses_becomes_one_dead_letter_and_no_failed_attempt() -> None:
    letters, failures = await handle(EbayRequestError("HTTP 400", status=400), attempt=2)
    [letter] = letters
    assert letter.reason == "EbayRequestError: HTTP 400"
    assert letter.account_id == 7 and letter.deliveries == 2
    assert letter.original_stream == WINDOWS_STREAM and letter.original_sequence == 12
    assert failures == []


async def test_a_transient_failure_is_reported_to_the_breaker_with_its_attempt() -> None:
    letters, failures = await handle(EbayTransientError("HTTP 503", status=503), attempt=3)
    [event] = failures
    assert (event.account_id, event.family, event.attempt) == (7, Family.ORDERS, 3)
    assert event.error == "EbayTransientError: HTTP 503"
    assert letters == []


@pytest.mark.parametrize("attempt", [1, 4])
async def test_a_spent_quota_is_neither_a_failure_nor_a_dead_letter(attempt: int) -> None:
    letters, failures = await handle(EbayQuotaError("518", retry_after=3600), attempt)
    assert (letters, failures) == ([], [])
