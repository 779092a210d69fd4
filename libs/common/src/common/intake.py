"""What a work-queue consumer refuses at the first delivery (docs/adr/0008).

A window or page names its pair twice: in its subject (``sync.<kind>.<family>.<account>``,
which the bus's permissions tie to the one service allowed to publish it) and in its body. The
subject is the identity; a body that disagrees with it, or that does not decode into its
contract at all, can never succeed, so it goes to the dead letters at once with the reason —
not after ``max_deliver`` redeliveries that lose the validation error.

:func:`identity_refusal` and :func:`body_refusal` are pure; :func:`refuse_poison` is the
FastStream middleware that applies them around a subscriber.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

from faststream import BaseMiddleware
from faststream._internal.context.repository import ContextRepo
from faststream.exceptions import HandlerException, NackMessage, RejectMessage
from faststream.message import StreamMessage
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from pydantic import ValidationError

from common.messages import MAX_ACCOUNT_ID, DeadLetter, RunMessage
from common.metrics import ERRORS

log = logging.getLogger(__name__)

# Longest reason stored: an eBay error body can be long, a reason is for operators to read.
MAX_REASON_CHARS = 2000


class RefusedMessage(Exception):
    """A message no retry can fix; ``str(exc)`` is the dead letter's reason."""


def subject_account(subject: str) -> int | None:
    """The account a ``sync.<kind>.<family>.<account>`` subject names, if it names one."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "sync" or not parts[3].isdigit():
        return None
    account = int(parts[3])
    return account if 1 <= account <= MAX_ACCOUNT_ID else None


def identity_refusal(subject: str, prefix: str, body: object) -> str | None:
    """Why a body disagrees with its subject ``<prefix>.<family>.<account>``, or None.

    ``body`` is the decoded JSON; a body that is not an object is left to validation.
    """
    if not isinstance(body, dict):
        return None
    parts = subject.removeprefix(f"{prefix}.").split(".")
    if not subject.startswith(f"{prefix}.") or len(parts) != 2:
        return f"subject {subject!r} is not {prefix}.<family>.<account>"
    family, account = parts
    if str(body.get("family")) != family:
        return f"body family {body.get('family')!r} disagrees with subject {subject!r}"
    if str(body.get("account_id")) != account:
        return f"body account_id {body.get('account_id')!r} disagrees with subject {subject!r}"
    return None


def body_refusal(model: type[RunMessage], subject: str, data: bytes) -> str | None:
    """Why ``data`` on ``subject`` can never be handled as ``model``, or None when it can."""
    try:
        body = model.model_validate_json(data)
    except ValidationError as exc:
        return f"{model.__name__} does not validate: {_errors(exc)}"[:MAX_REASON_CHARS]
    return identity_refusal(subject, model.SUBJECT_PREFIX, body.model_dump(mode="json"))


def _errors(exc: ValidationError) -> str:
    # Without the input: a page's body can be a megabyte.
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )


def letter_of(raw: Msg, reason: str, now: datetime, account_id: int | None) -> DeadLetter:
    """The dead letter of a JetStream delivery, with where it was stored and how often tried."""
    metadata = raw.metadata
    return DeadLetter.of(
        raw.subject,
        raw.data,
        original_headers=dict(raw.headers or {}),
        original_stream=metadata.stream,
        original_sequence=metadata.sequence.stream,
        account_id=account_id,
        reason=reason[:MAX_REASON_CHARS],
        deliveries=metadata.num_delivered,
        failed_at=now,
    )


def poison_letter(raw: Msg, reason: str, now: datetime) -> DeadLetter:
    """The dead letter of a refused delivery, shown to the org of the subject's account."""
    return letter_of(raw, reason, now, subject_account(raw.subject))


Publish = Callable[[NatsBroker, DeadLetter], Awaitable[None]]


def refuse_poison(
    model: type[RunMessage], publish: Publish, retry_delay: Callable[[int], float]
) -> type[BaseMiddleware]:
    """A router middleware: dead-letter, at the first delivery, what cannot be ``model``.

    ``publish`` stores a dead letter; if it fails, the message is handed back after
    ``retry_delay(delivery)`` instead, so nothing is dropped unrecorded.
    """

    class RefusePoison(BaseMiddleware):
        def __init__(self, msg: Any, /, *, context: ContextRepo) -> None:
            super().__init__(msg, context=context)

        async def consume_scope(
            self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            raw: Msg = msg.raw_message
            reason = identity_refusal(raw.subject, model.SUBJECT_PREFIX, await msg.decode())
            if reason is not None:
                raise RefusedMessage(reason)
            return await call_next(msg)

        async def after_processed(
            self,
            exc_type: type[BaseException] | None = None,
            exc_val: BaseException | None = None,
            exc_tb: TracebackType | None = None,
        ) -> bool | None:
            if exc_val is None or isinstance(exc_val, HandlerException):
                return False
            raw = cast("Msg", self.msg)
            if isinstance(exc_val, RefusedMessage):
                reason: str | None = str(exc_val)
            else:
                # The handler catches its own failures: what escapes it is decoding (or a bug);
                # only a body that does not validate is refused.
                reason = body_refusal(model, raw.subject, raw.data)
            if reason is None:
                return False
            ERRORS.labels("intake", "refused").inc()
            log.error("%s refused: %s", raw.subject, reason)
            broker: NatsBroker = self.context.get("broker")
            try:
                await publish(broker, poison_letter(raw, reason, datetime.now(UTC)))
            except Exception as publish_exc:
                log.warning("%s not dead-lettered yet: %s", raw.subject, publish_exc)
                attempt = raw.metadata.num_delivered or 1
                raise NackMessage(delay=retry_delay(attempt)) from exc_val
            raise RejectMessage from exc_val

    return RefusePoison
