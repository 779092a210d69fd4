"""Repair a pair whose cursor or data came from a bad page (docs/adr/0008).

``ebaysync repair`` and ``POST /api/accounts/{id}/families/{family}/repair`` both call
:func:`repair_pair`: it moves the pair's cursor to the repair start (back, if need be), gives
rows whose version lies in the future that start as their version (so the genuine version a
re-sync brings replaces them), and queues a window from there through Run now's path
(:func:`common.scheduling.publish_window`), recorded as a run with trigger ``repair`` and who
asked for it. The scheduler's catch-up chains the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from faststream.nats import NatsBroker
from opentelemetry.trace import Tracer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.accounts import EbayAccount
from common.db.orders import LINE_ITEMS, ORDERS
from common.db.postorder import CASES, INQUIRIES
from common.db.sync import SyncRepository, SyncState
from common.db.upsert import UpsertSpec
from common.families import SNAPSHOT_FAMILIES, Family, families_of
from common.messages import SyncWindow, Trigger
from common.scheduling import PlannedWindow, PublishOutcome, publish_window, window_command
from common.windows import WindowPolicy, plan_window

Outcome = Literal["queued", "reset", "in_flight", "blocked"]

# The tables whose version column guards against older data (common.db.upsert): a forged
# future version there refuses every genuine update until repaired.
VERSIONED_SPECS: tuple[UpsertSpec, ...] = (ORDERS, LINE_ITEMS, CASES, INQUIRIES)


@dataclass(frozen=True)
class RepairResult:
    outcome: Outcome
    detail: str
    cursor: datetime | None = None
    command: SyncWindow | None = None


def repair_refusal(
    account: EbayAccount,
    family: Family,
    state: SyncState | None,
    since: datetime | None,
    now: datetime,
    *,
    paused: bool,
) -> str | None:
    """Why the pair cannot be repaired now, or None (Run now's rules, and no future start)."""
    if family not in families_of(account.purpose):
        return f"a {account.purpose} account does not sync {family}"
    if not account.active:
        return "account deactivated"
    if account.needs_reauth:
        return "eBay refused the refresh token: reconnect the account"
    if state is not None and not state.enabled:
        return f"the {family} worker is disabled: enable it first"
    if paused:
        return "pause is on: no new windows start"
    if since is not None and since > now:
        return f"--since {since.isoformat()} lies in the future"
    return None


def repair_start(since: datetime | None, now: datetime, policy: WindowPolicy) -> datetime:
    """Where the repaired cursor goes: ``since``, by default the family's backfill start."""
    return since if since is not None else now - policy.initial_backfill


def versioned_specs(family: Family) -> tuple[UpsertSpec, ...]:
    return tuple(
        spec
        for spec in VERSIONED_SPECS
        if (spec.family or (spec.parent.family if spec.parent else None)) == family
    )


async def _clamp_future_versions(
    session: AsyncSession, account_id: int, family: Family, start: datetime, now: datetime
) -> int:
    clamped = 0
    for spec in versioned_specs(family):
        column = spec.version_column
        result = await session.execute(
            text(
                f"UPDATE {spec.table.name} SET {column} = :start "
                f"WHERE account_id = :account_id AND {column} > :now"
            ),
            {"start": start, "account_id": account_id, "now": now},
        )
        clamped += int(getattr(result, "rowcount", 0) or 0)
    return clamped


async def repair_pair(
    session: AsyncSession,
    broker: NatsBroker,
    tracer: Tracer,
    *,
    account: EbayAccount,
    family: Family,
    since: datetime | None,
    now: datetime,
    policy: WindowPolicy,
    paused: bool,
    requested_by: str,
    publish_timeout: float,
) -> RepairResult:
    """Reset the pair's cursor and queue its re-sync; commits ``session`` unless refused.

    ``paused``: the platform-wide or the account's org's pause is on.
    """
    sync = SyncRepository(session)
    state = await sync.get_state(account.id, family)
    refusal = repair_refusal(account, family, state, since, now, paused=paused)
    if refusal is not None:
        return RepairResult("blocked", refusal)
    start = repair_start(since, now, policy)
    await sync.reset_cursor(account.id, family, start, now)
    clamped = await _clamp_future_versions(session, account.id, family, start, now)
    window = None
    if family not in SNAPSHOT_FAMILIES:
        window = plan_window(start, now, policy)
        if window is None:
            await session.commit()
            return RepairResult("reset", f"cursor reset to {start.isoformat()}", start)
    in_flight = RepairResult(
        "in_flight", f"a {family} window of this account is in flight; repair it after"
    )
    # As the scheduler does (docs/adr/0011-fencing.md): the pair's next fence, held until the
    # run is recorded; None while a page of the pair is being written.
    fence = await sync.take_fence(account.id, family)
    if fence is None:
        await session.rollback()
        return in_flight
    command = window_command(
        PlannedWindow(account.id, family, window, Trigger.REPAIR), now, fence=fence
    )
    outcome = await publish_window(broker, tracer, command, publish_timeout)
    if outcome is PublishOutcome.IN_FLIGHT:
        await session.rollback()
        return in_flight
    await sync.record_queued(command, requested_by=requested_by)
    await session.commit()
    detail = f"cursor reset to {start.isoformat()}; run {command.run_id} queued"
    if clamped:
        detail += f"; {clamped} rows dated in the future will take the re-synced version"
    return RepairResult("queued", detail, start, command)
