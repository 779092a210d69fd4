"""How a work-queue consumer treats a failed delivery (docs/adr/0020-failure-policy.md).

:func:`classify` is the one failure policy, pure: an exception, which delivery this is and the
consumer's :class:`FailurePolicy` give a :class:`Decision`:

* ``RETRY``: a failed attempt; the message comes back after a backoff (``NAK`` with a delay,
  never at once: STACK-NOTES §1.3), and the pair's circuit breaker may hear of it;
* ``WAIT``: no failure of the account (a spent quota, the token service away); the message
  comes back after the delay and the breaker is not told;
* ``DEAD_LETTER``: no retry can help; the message goes to the dead letters with a reason and is
  TERMed, which frees its pair (docs/adr/0005-dead-letters.md).

:func:`retried_in_place` is the rung below: whether a failed eBay call is tried again at once,
inside the delivery, before any of this. :meth:`Failures.guard` applies the decision to the
JetStream message a handler holds, the same way for every consumer, so handlers only load,
decide, store and publish.

Running out of deliveries is not decided here: JetStream stops at the consumer's
``max_deliver`` and the writer's mover dead-letters what it gave up on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import NoReturn, Protocol, runtime_checkable

from faststream.exceptions import HandlerException, NackMessage, RejectMessage
from faststream.nats import NatsBroker, NatsMessage
from prometheus_client import Counter

from common.deadletter import dead_letter_of_delivery, reason_of
from common.ebay.errors import (
    EbayError,
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
)
from common.messages import DeadLetter
from common.metrics import ERRORS
from common.redelivery import MAX_DELAY_SECONDS, delivery_attempt, retry_delay

# eBay failures no retry can fix, for the consumers that call eBay. An EbayPayloadError reaches
# a handler only after the in-place retries also got unreadable bodies (``retried_in_place``).
EBAY_PERMANENT: tuple[type[BaseException], ...] = (EbayRequestError, EbayPayloadError)
# A 401 even with a fresh token: the token service may yet sort it out, but not within seconds,
# so its backoff starts as if four deliveries had already failed (2^(n+4) s).
AUTH_BACKOFF_STEPS = 4


class Action(StrEnum):
    RETRY = "retry"
    WAIT = "wait"
    DEAD_LETTER = "dead_letter"


class Log(Enum):
    """How the handler reports the failure: an expected one without a traceback."""

    WARNING = "warning"
    ERROR = "error"
    TRACEBACK = "traceback"


@dataclass(frozen=True)
class Decision:
    action: Action
    # Seconds before the next delivery (RETRY and WAIT).
    delay: float = 0.0
    # The dead letter's reason (DEAD_LETTER).
    reason: str = ""
    # The ``ebaysync_errors_total`` kind; None: not counted as an error.
    error: str | None = None
    log: Log = Log.WARNING


@runtime_checkable
class JudgesItself(Protocol):
    """An exception that knows whether a retry can help (a token the seller must renew)."""

    @property
    def is_permanent(self) -> bool: ...


@dataclass(frozen=True)
class FailurePolicy:
    """What one consumer treats specially; the rest follows the shared ladder, which never
    dead-letters: the default policy retries everything.

    ``permanent``: kinds no retry can fix (dead letter at the first delivery; a consumer that
    calls eBay adds :data:`EBAY_PERMANENT`). ``judged``: kinds
    that say so themselves (:class:`JudgesItself`). ``labels``: the error kind counted for an
    exception kind (first match; else the eBay rung's label or the exception's type name).
    ``cap``: the longest backoff.
    """

    permanent: tuple[type[BaseException], ...] = ()
    judged: tuple[type[BaseException], ...] = ()
    labels: Mapping[type[BaseException], str] = field(default_factory=dict)
    cap: float = MAX_DELAY_SECONDS

    def label(self, exc: BaseException, default: str | None = None) -> str:
        for kind, label in self.labels.items():
            if isinstance(exc, kind):
                return label
        return default or type(exc).__name__


def classify(exc: BaseException, attempt: int, policy: FailurePolicy) -> Decision:
    """The decision for delivery ``attempt`` (1 for the first) that failed with ``exc``.

    In this order: the consumer's permanent kinds, the kinds that judge themselves,
    a spent quota (wait for its reset), other transient eBay failures (eBay's Retry-After, else
    backoff), any other eBay failure (a longer backoff), anything else (backoff, traceback).
    """

    def backoff(steps: int = 0, retry_after: float | None = None) -> float:
        return retry_delay(attempt + steps, retry_after, cap=policy.cap)

    if isinstance(exc, policy.permanent):
        return dead_letter(exc, policy.label(exc))
    if isinstance(exc, policy.judged) and isinstance(exc, JudgesItself):
        if exc.is_permanent:
            return dead_letter(exc, policy.label(exc))
        return Decision(Action.RETRY, backoff(), error=policy.label(exc))
    if isinstance(exc, EbayQuotaError):
        # Not the account's failure: the message waits for the reset, holding its pair (and
        # only that pair) until then.
        return Decision(Action.WAIT, backoff(retry_after=exc.retry_after))
    if isinstance(exc, EbayTransientError):
        delay = backoff(retry_after=exc.retry_after)
        return Decision(Action.RETRY, delay, error=policy.label(exc, "transient"))
    if isinstance(exc, EbayError):
        return Decision(
            Action.RETRY, backoff(AUTH_BACKOFF_STEPS), error=policy.label(exc), log=Log.ERROR
        )
    # NATS, KV, the database or anything unforeseen: hand it back later, never at once.
    return Decision(Action.RETRY, backoff(), error=policy.label(exc), log=Log.TRACEBACK)


def dead_letter(exc: BaseException, error: str) -> Decision:
    return Decision(Action.DEAD_LETTER, reason=reason_of(exc), error=error, log=Log.ERROR)


def unstored(attempt: int, policy: FailurePolicy) -> Decision:
    """A dead letter JetStream did not take: keep the message, dead-letter it next delivery."""
    return Decision(Action.RETRY, retry_delay(attempt, cap=policy.cap))


def retried_in_place(exc: BaseException) -> bool:
    """Whether a failed eBay call is tried again at once, inside its delivery.

    5xx answers, timeouts and dropped connections (an ``EbayTransientError`` with a 5xx status
    or none) usually pass within seconds. So may an unreadable 2xx body (``EbayPayloadError``):
    an answer cut off on its way can look like one, and only a body that stays unreadable
    through every attempt is eBay's own fault (:func:`classify` then dead-letters it). A 429
    or a spent quota is not retried in place: waiting would hold a worker, so the message goes
    back to JetStream with eBay's delay.
    """
    if isinstance(exc, EbayPayloadError):
        return True
    return (
        isinstance(exc, EbayTransientError)
        and not isinstance(exc, EbayQuotaError)
        and exc.status != 429
    )


# Stores a dead letter in SYNC_DLQ (``common.deadletter.publish_dead_letter``); raises if not.
Store = Callable[[NatsBroker, DeadLetter], Awaitable[None]]
# Tells the circuit breaker of a failed attempt (the exception, the delivery); best effort.
Report = Callable[[BaseException, int], Awaitable[None]]


@dataclass(frozen=True)
class Outcomes:
    """The counter of what became of a consumer's messages (labels: family, outcome)."""

    counter: Counter
    labels: Mapping[Action, str]

    def count(self, family: str | None, action: Action) -> None:
        label = self.labels.get(action)
        if family is not None and label is not None:
            self.counter.labels(family, label).inc()


@dataclass(frozen=True)
class Failures:
    """One consumer's failure handling: :func:`classify`, then ack machinery, the same for all.

    ``service`` labels the errors counted; ``log`` is the handler's logger, so its records
    stay the service's.
    """

    service: str
    policy: FailurePolicy
    store: Store
    log: logging.Logger
    outcomes: Outcomes | None = None

    @asynccontextmanager
    async def guard(
        self,
        msg: NatsMessage,
        broker: NatsBroker,
        what: str,
        *,
        family: str | None = None,
        account_id: int | None = None,
        report: Report | None = None,
    ) -> AsyncIterator[None]:
        """Run the handler's work; a failure ends as NAK with a delay, or dead letter and TERM.

        ``what`` names the message in logs ("run …"); ``account_id`` is the dead letter's;
        ``report`` hears of every ``RETRY`` (not of a ``WAIT``).
        """
        try:
            yield
        except HandlerException:
            raise  # an ack decision made on purpose
        except Exception as exc:
            attempt = delivery_attempt(msg)
            decision = classify(exc, attempt, self.policy)
            await self._apply(decision, exc, attempt, msg, broker, what, family, account_id, report)

    async def _apply(
        self,
        decision: Decision,
        exc: Exception,
        attempt: int,
        msg: NatsMessage,
        broker: NatsBroker,
        what: str,
        family: str | None,
        account_id: int | None,
        report: Report | None,
    ) -> NoReturn:
        if decision.error is not None:
            ERRORS.labels(self.service, decision.error).inc()
        self._log(decision, exc, what)
        if decision.action is Action.DEAD_LETTER:
            letter = dead_letter_of_delivery(
                msg, decision.reason, datetime.now(UTC), account_id=account_id
            )
            try:
                await self.store(broker, letter)
            except Exception as store_exc:
                # Never drop a message unrecorded: keep it, dead-letter it on the next delivery.
                self.log.warning("%s not dead-lettered yet: %s", what, store_exc)
                raise NackMessage(delay=unstored(attempt, self.policy).delay) from exc
            self._count(family, decision.action)
            # TERM removes it from its work queue, so its pair is free for the next message.
            raise RejectMessage from exc
        self._count(family, decision.action)
        if decision.action is Action.RETRY and report is not None:
            try:
                await report(exc, attempt)
            except Exception as report_exc:
                # Best effort: the breaker then opens one failure later.
                self.log.warning("failed attempt of %s not reported: %s", what, report_exc)
        raise NackMessage(delay=decision.delay) from exc

    def _log(self, decision: Decision, exc: Exception, what: str) -> None:
        if decision.action is Action.DEAD_LETTER:
            self.log.error("%s dead-lettered: %s", what, exc)
        elif decision.log is Log.TRACEBACK:
            self.log.error(
                "%s: unexpected failure; retrying in %.0fs", what, decision.delay, exc_info=exc
            )
        else:
            verb = "waiting" if decision.action is Action.WAIT else "retrying in"
            level = logging.ERROR if decision.log is Log.ERROR else logging.WARNING
            self.log.log(level, "%s: %s; %s %.0fs", what, exc, verb, decision.delay)

    def _count(self, family: str | None, action: Action) -> None:
        if self.outcomes is not None:
            self.outcomes.count(family, action)
