"""The scheduling rules, in one home: which window a pair gets next, when it is due, and how a
window command goes onto the bus.

The scheduler calls :func:`plan_pair` every tick on the pairs whose stored due time
(:func:`recheck_at`, from :func:`next_due_at`) has come and sends the windows together with
:func:`publish_windows`; the admin API calls :func:`plan_pair`-based
:func:`project_schedule` for its Schedule panel and :func:`window_command` /
:func:`publish_window` for "run now". So what operators are shown is what the scheduler does,
and there is one execution path (DESIGN §2).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from faststream.nats import NatsBroker
from nats.js.api import PubAck
from nats.js.errors import APIError
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from common.budget.model import backed_off
from common.db.sync import PairState
from common.families import SNAPSHOT_FAMILIES, Family
from common.messages import SyncWindow, Trigger, encoded
from common.streams import WINDOWS_STREAM
from common.telemetry import annotate_run
from common.windows import Window, WindowPolicy, plan_window

# JetStream's answer when the subject already holds a window: that pair is in flight.
MAX_MSGS_PER_SUBJECT_EXCEEDED = 10077


@dataclass(frozen=True)
class PlannedWindow:
    account_id: int
    family: Family
    # None for a snapshot family: it enumerates everything, up to the moment it runs.
    window: Window | None
    trigger: Trigger


def plan_pair(pair: PairState, now: datetime, policy: WindowPolicy) -> PlannedWindow | None:
    """The window to publish for one pair now, or None when it is not due."""
    if not pair.enabled or pair.in_flight:
        return None
    return _window_when_due(pair, now, policy, next_due_at(pair, now, policy))


def _window_when_due(
    pair: PairState, now: datetime, policy: WindowPolicy, due: datetime
) -> PlannedWindow | None:
    if due > now:
        return None
    if pair.family in SNAPSHOT_FAMILIES:
        # A snapshot's cursor is the moment (in the scheduler's time) it was taken as of.
        trigger = Trigger.SCHEDULE if pair.cursor is not None else Trigger.CATCH_UP
        return PlannedWindow(pair.account_id, pair.family, None, trigger)
    window = plan_window(pair.cursor, now, policy)
    if window is None:
        return None
    behind = window.end < now - policy.settle_lag
    trigger = Trigger.CATCH_UP if behind or pair.cursor is None else Trigger.SCHEDULE
    return PlannedWindow(pair.account_id, pair.family, window, trigger)


def plan(
    pairs: Iterable[PairState], now: datetime, policies: Mapping[Family, WindowPolicy]
) -> list[PlannedWindow]:
    planned = (plan_pair(pair, now, policies[pair.family]) for pair in pairs)
    return [p for p in planned if p is not None]


def next_due_at(pair: PairState, now: datetime, policy: WindowPolicy) -> datetime:
    """The pair's next due time: the earliest moment, from ``now`` on, at which
    :func:`plan_pair` sends it a window (ignoring ``enabled`` and ``in_flight``, which only an
    operator or a finished run change).

    The one home of "when is a pair due": :func:`plan_pair` sends a window once it has come,
    the scheduler stores it (:func:`recheck_at`) to read only pairs that can be due, and the
    admin API's Schedule shows it.
    """
    start = max(now, pair.paused_until) if pair.paused_until is not None else now
    if pair.cursor is None:
        return start
    cadence = pair_cadence(pair, policy)
    if pair.family in SNAPSHOT_FAMILIES:
        return max(start, pair.cursor + cadence)
    window = plan_window(pair.cursor, start, policy)
    if window is not None and window.end < start - policy.settle_lag:
        return start  # still behind (a backfill): the next window goes at once
    # A caught-up pair is due once its next window would span its cadence.
    return max(start, pair.cursor + cadence + policy.settle_lag)


def pair_cadence(pair: PairState, policy: WindowPolicy) -> timedelta:
    """The pair's own cadence: the policy's (the budget plan's family interval), backed off
    while its runs keep writing nothing (:func:`common.budget.model.backed_off`)."""
    return backed_off(policy.cadence, policy.backoff_limit, pair.quiet_runs, policy.backoff_after)


def recheck_at(pair: PairState, now: datetime, policy: WindowPolicy) -> datetime | None:
    """When the scheduler must look at a pair again, in the planner's clock: its next due time,
    or for a pair in flight when its run could turn stale (unless the run ends first, which
    resets the stored time: ``SyncRepository.complete_run`` and friends); None for a disabled
    pair: not until an operator enables it."""
    if not pair.enabled:
        return None
    if pair.in_flight:
        return pair.in_flight_until
    return next_due_at(pair, now, policy)


def plan_or_recheck(
    pair: PairState, now: datetime, policy: WindowPolicy
) -> PlannedWindow | datetime | None:
    """:func:`plan_pair`, or when it sends nothing :func:`recheck_at`: the scheduler's one
    decision per pair, computing the due time once."""
    if not pair.enabled or pair.in_flight:
        return recheck_at(pair, now, policy)
    due = next_due_at(pair, now, policy)
    return _window_when_due(pair, now, policy, due) or due


@dataclass(frozen=True)
class Projection:
    """What the scheduler will do next for one pair, by the rules it uses."""

    next_due_at: datetime | None
    # Snapshot families: one window-less snapshot at the due time, never a chain of windows.
    snapshot: bool
    # Incremental families: the windows it sends back to back from then on (at most a limit).
    windows: list[Window]
    more_windows: bool
    blocked_by: str | None


def project_schedule(
    pair: PairState, now: datetime, policy: WindowPolicy, *, blocked_by: str | None, limit: int
) -> Projection:
    due_at = next_due_at(pair, now, policy)
    snapshot = pair.family in SNAPSHOT_FAMILIES
    windows: list[Window] = []
    position = pair.cursor
    while not snapshot and len(windows) <= limit:
        window = plan_window(position, due_at, policy)
        if window is None:
            break
        windows.append(window)
        position = window.end
    return Projection(
        next_due_at=None if blocked_by else due_at,
        snapshot=snapshot,
        windows=windows[:limit],
        more_windows=len(windows) > limit,
        blocked_by=blocked_by,
    )


def window_command(
    planned: PlannedWindow, now: datetime, *, fence: int, committed_run: uuid.UUID | None = None
) -> SyncWindow:
    """The command for a planned window, with a new run id (its dedup id comes from the window,
    or from the run for a manual one or a snapshot), the pair's new fencing number
    (``SyncRepository.take_fence``, docs/adr/0011-fencing.md) and the pair's last committed
    run, read under that fence (``SyncRepository.committed_runs``; None: trust no mark)."""
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=planned.account_id,
        family=planned.family,
        window_from=planned.window.start if planned.window else None,
        window_to=planned.window.end if planned.window else now,
        trigger=planned.trigger,
        issued_at=now,
        fence=fence,
        committed_run=committed_run,
    )


class PublishOutcome(StrEnum):
    ACCEPTED = "accepted"
    # The same window was sent within JetStream's duplicate window (a retry, a second leader).
    DUPLICATE = "duplicate"
    # The subject still holds a window: that pair is in flight (JetStream is the lock).
    IN_FLIGHT = "in_flight"


async def publish_window(
    broker: NatsBroker, tracer: Tracer, command: SyncWindow, within: float
) -> PublishOutcome:
    """Publish a window command with its dedup id and wait for JetStream's acknowledgement.

    Its span is the root of the run's trace: fetcher and writer spans descend from it. Raises
    what the bus raised (a timeout, an API error other than "in flight").
    """
    (outcome,) = await publish_windows(broker, tracer, [command], within)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


async def publish_windows(
    broker: NatsBroker, tracer: Tracer, commands: Sequence[SyncWindow], within: float
) -> list[PublishOutcome | Exception]:
    """Publish window commands together and await their acknowledgements together.

    Every command's JetStream publish (with its dedup id and its own root span) is started at
    once and all acknowledgements are awaited together, each within ``within`` seconds: a
    tick pays one round trip, not one per window. Returns each command's outcome, in order, or
    the error it met (a timeout, an API error other than "in flight"): the caller decides.

    (nats-py's ``publish_async`` is not used: its reply handler raises instead of failing the
    future on a 503 answer such as error 10077, so an "in flight" answer would only time out.)
    """
    js = broker.config.connection_state.stream
    spans: list[Span] = []
    pending = []
    for command in commands:
        span = tracer.start_span(_span_name(command), kind=SpanKind.PRODUCER)
        with trace.use_span(span, end_on_exit=False):
            annotate_run(command)
            headers = {"Nats-Msg-Id": command.message_id, "content-type": "application/json"}
            _PROPAGATOR.inject(headers)  # the fetcher's span continues this trace
        spans.append(span)
        pending.append(
            js.publish(
                command.subject,
                encoded(command),
                timeout=within,
                stream=WINDOWS_STREAM,
                headers=headers,
            )
        )
    acks = await asyncio.gather(*pending, return_exceptions=True)
    outcomes: list[PublishOutcome | Exception] = []
    for span, ack in zip(spans, acks, strict=True):
        outcome = _outcome(ack)
        if isinstance(outcome, Exception):
            span.record_exception(outcome)
            span.set_status(StatusCode.ERROR, type(outcome).__name__)
        span.end()
        outcomes.append(outcome)
    return outcomes


_PROPAGATOR = TraceContextTextMapPropagator()


def _span_name(command: SyncWindow) -> str:
    verb = {Trigger.MANUAL: "run now", Trigger.REPAIR: "repair"}.get(command.trigger, "schedule")
    return f"{verb} {command.subject_name}"


def _outcome(ack: PubAck | BaseException) -> PublishOutcome | Exception:
    if isinstance(ack, APIError) and ack.err_code == MAX_MSGS_PER_SUBJECT_EXCEEDED:
        return PublishOutcome.IN_FLIGHT
    if isinstance(ack, Exception):
        return ack
    if isinstance(ack, BaseException):  # a cancellation: not ours to swallow
        raise ack
    return PublishOutcome.DUPLICATE if ack.duplicate else PublishOutcome.ACCEPTED
