"""The scheduling rules, in one home: which window a pair gets next, when it is due, and how a
window command goes onto the bus.

The scheduler calls :func:`plan` every tick; the admin API calls :func:`plan_pair`-based
:func:`project_schedule` for its Schedule panel and :func:`window_command` /
:func:`publish_window` for "run now". So what operators are shown is what the scheduler does,
and there is one execution path (DESIGN §2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from faststream.nats import NatsBroker
from nats.js.errors import APIError
from opentelemetry.trace import SpanKind, Tracer

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
    if pair.paused_until is not None and pair.paused_until > now:
        return None
    if pair.family in SNAPSHOT_FAMILIES:
        # A snapshot's cursor is the moment (in the scheduler's time) it was taken as of.
        if pair.cursor is not None and now - pair.cursor < policy.cadence:
            return None
        trigger = Trigger.SCHEDULE if pair.cursor is not None else Trigger.CATCH_UP
        return PlannedWindow(pair.account_id, pair.family, None, trigger)
    window = plan_window(pair.cursor, now, policy)
    if window is None:
        return None
    behind = window.end < now - policy.settle_lag
    # A caught-up pair waits for its cadence; one still behind goes again at once.
    if pair.cursor is not None and not behind and window.end - pair.cursor < policy.cadence:
        return None
    trigger = Trigger.CATCH_UP if behind or pair.cursor is None else Trigger.SCHEDULE
    return PlannedWindow(pair.account_id, pair.family, window, trigger)


def plan(
    pairs: Iterable[PairState], now: datetime, policies: Mapping[Family, WindowPolicy]
) -> list[PlannedWindow]:
    planned = (plan_pair(pair, now, policies[pair.family]) for pair in pairs)
    return [p for p in planned if p is not None]


def next_due_at(pair: PairState, now: datetime, policy: WindowPolicy) -> datetime:
    """The earliest moment, from ``now`` on, at which :func:`plan_pair` sends this pair a window
    (ignoring ``enabled`` and ``in_flight``, which only an operator or a finished run change)."""
    ready = replace(pair, enabled=True, in_flight=False)
    start = max(now, pair.paused_until) if pair.paused_until is not None else now
    if plan_pair(ready, start, policy) is not None or pair.cursor is None:
        return start
    if pair.family in SNAPSHOT_FAMILIES:
        return max(start, pair.cursor + policy.cadence)
    # A caught-up pair is due once its next window would span a cadence.
    return max(start, pair.cursor + policy.cadence + policy.settle_lag)


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


def window_command(planned: PlannedWindow, now: datetime, *, fence: int) -> SyncWindow:
    """The command for a planned window, with a new run id (its dedup id comes from the window,
    or from the run for a manual one or a snapshot) and the pair's new fencing number
    (``SyncRepository.take_fence``, docs/adr/0011-fencing.md)."""
    return SyncWindow(
        run_id=uuid.uuid4(),
        account_id=planned.account_id,
        family=planned.family,
        window_from=planned.window.start if planned.window else None,
        window_to=planned.window.end if planned.window else now,
        trigger=planned.trigger,
        issued_at=now,
        fence=fence,
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

    Its span is the root of the run's trace: fetcher and writer spans descend from it.
    """
    verb = {Trigger.MANUAL: "run now", Trigger.REPAIR: "repair"}.get(command.trigger, "schedule")
    with tracer.start_as_current_span(f"{verb} {command.subject_name}", kind=SpanKind.PRODUCER):
        annotate_run(command)
        try:
            ack = await broker.publish(
                encoded(command),
                command.subject,
                stream=WINDOWS_STREAM,
                headers={"Nats-Msg-Id": command.message_id, "content-type": "application/json"},
                timeout=within,
            )
        except APIError as exc:
            if exc.err_code == MAX_MSGS_PER_SUBJECT_EXCEEDED:
                return PublishOutcome.IN_FLIGHT
            raise
    return PublishOutcome.DUPLICATE if ack.duplicate else PublishOutcome.ACCEPTED
