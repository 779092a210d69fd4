"""Dead letters: built from a message that failed for good and stored in ``SYNC_DLQ``.

Two ways in (docs/adr/0005-dead-letters.md):

* a handler meets an error no retry can fix: :func:`dead_letter_of_delivery`, then
  :func:`publish_dead_letter`, then TERM (which removes the message from its work queue);
* a message runs out of deliveries: JetStream announces it on :func:`max_deliveries_subject` and
  the writer's mover builds :func:`dead_letter_of_stored` from the stored copy, publishes it and
  deletes the original, which frees its pair.

Each dead letter's ``Nats-Msg-Id`` is derived from the original's stream and sequence, so a
repeated publish (a redelivery after a crash, two replicas) stores it once.
"""

from __future__ import annotations

from datetime import datetime

from faststream.nats import NatsBroker, NatsMessage
from nats.js.api import RawStreamMsg
from pydantic import BaseModel, ConfigDict, ValidationError

from common.intake import MAX_REASON_CHARS, identity_refusal, letter_of, subject_account
from common.messages import DeadLetter, PageBatch, RunMessage, SyncWindow, encoded
from common.metrics import DEAD_LETTERS
from common.streams import DLQ_STREAM


def max_deliveries_subject(stream: str, consumer: str) -> str:
    """Where JetStream announces that a consumer gave up on a message (STACK-NOTES §1.4)."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"


class MaxDeliveriesAdvisory(BaseModel):
    """The server's ``io.nats.jetstream.advisory.v1.max_deliver`` event (the fields we use)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    stream: str
    consumer: str
    stream_seq: int
    deliveries: int


def reason_of(exc: BaseException) -> str:
    """An exception as a dead letter's reason: its kind and its message."""
    text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_REASON_CHARS]


def run_of(subject: str, data: bytes) -> RunMessage | None:
    """The run a window or page message belongs to, or None when the body is unreadable or
    names another pair than its subject (a forged body must not fail someone else's run)."""
    model: type[RunMessage]
    if subject.startswith(f"{SyncWindow.SUBJECT_PREFIX}."):
        model = SyncWindow
    elif subject.startswith(f"{PageBatch.SUBJECT_PREFIX}."):
        model = PageBatch
    else:
        return None
    try:
        run = model.model_validate_json(data)
    except ValidationError:
        return None
    if identity_refusal(subject, model.SUBJECT_PREFIX, run.model_dump(mode="json")):
        return None
    return run


def failed_run(letter: DeadLetter) -> RunMessage | None:
    """The run of a dead-lettered window or page."""
    return run_of(letter.original_subject, letter.original_data)


def dead_letter_of_delivery(
    msg: NatsMessage, reason: str, now: datetime, account_id: int | None = None
) -> DeadLetter:
    """A dead letter for the message a JetStream handler is holding."""
    return letter_of(msg.raw_message, reason, now, account_id)


def dead_letter_of_stored(
    stored: RawStreamMsg, advisory: MaxDeliveriesAdvisory, reason: str, now: datetime
) -> DeadLetter:
    """A dead letter for a stored message its consumer gave up on."""
    subject, data = stored.subject or "", stored.data or b""
    return DeadLetter.of(
        subject,
        data,
        original_headers=dict(stored.headers or {}),
        original_stream=advisory.stream,
        original_sequence=advisory.stream_seq,
        # The subject's account: its org sees the letter, whatever the body claims.
        account_id=subject_account(subject),
        reason=reason[:MAX_REASON_CHARS],
        deliveries=advisory.deliveries,
        failed_at=now,
    )


async def publish_dead_letter(
    broker: NatsBroker, letter: DeadLetter, publish_timeout: float
) -> None:
    """Store the dead letter in ``SYNC_DLQ``; raises if JetStream did not take it."""
    await broker.publish(
        encoded(letter),
        letter.subject,
        stream=DLQ_STREAM,
        headers={"Nats-Msg-Id": letter.message_id, "content-type": "application/json"},
        timeout=publish_timeout,
    )
    DEAD_LETTERS.labels(letter.original_stream or "core").inc()
