"""Run now: plan the pair's window with the scheduler's planner and send the scheduler's
command for it, then record the run as queued, as the scheduler does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from nats.js.kv import KeyValue
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.context import AdminContext
from common.control import PauseSwitch
from common.db.accounts import EbayAccount
from common.db.sync import SyncRepository
from common.families import SNAPSHOT_FAMILIES, Family, families_of
from common.messages import SyncWindow, Trigger
from common.scheduling import PlannedWindow, PublishOutcome, publish_window, window_command
from common.streams import BUCKETS
from common.windows import plan_window
from common.workers import account_blocked

Outcome = Literal["queued", "in_flight", "up_to_date", "blocked"]


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome
    detail: str
    command: SyncWindow | None = None


async def control_bucket(context: AdminContext) -> KeyValue:
    return await context.broker.key_value(BUCKETS.control.bucket, declare=False)


async def pause_all(context: AdminContext) -> PauseSwitch:
    return PauseSwitch(await control_bucket(context))


async def paused_for(context: AdminContext, org_id: int) -> bool:
    """Whether the org's accounts start no new windows (platform-wide or the org's pause)."""
    return await (await pause_all(context)).applies_to(org_id)


async def run_now(
    context: AdminContext,
    session: AsyncSession,
    account: EbayAccount,
    family: Family,
    now: datetime,
) -> RunResult:
    if family not in families_of(account.purpose):
        return RunResult("blocked", f"a {account.purpose} account does not sync {family}")
    if reason := account_blocked(account):
        return RunResult("blocked", reason)
    sync = SyncRepository(session)
    state = await sync.get_state(account.id, family)
    if state is not None and not state.enabled:
        return RunResult("blocked", f"the {family} worker is disabled: enable it first")
    if await paused_for(context, account.org_id):
        return RunResult("blocked", "pause is on: no new windows start")
    window = None
    if family not in SNAPSHOT_FAMILIES:
        policy = context.settings.window.policy(family)
        window = plan_window(state.cursor if state else None, now, policy)
        if window is None:
            return RunResult("up_to_date", "nothing new to fetch: the cursor is at the settle lag")
    in_flight = RunResult(
        "in_flight", f"a {family} window of this account is in flight; it must finish first"
    )
    # As the scheduler does: the fence holds the pair's row until the run is recorded.
    fence = await sync.take_fence(account.id, family)
    if fence is None:
        return in_flight
    command = window_command(
        PlannedWindow(account.id, family, window, Trigger.MANUAL), now, fence=fence
    )
    outcome = await publish_window(
        context.broker, context.tracer, command, context.settings.nats.publish_timeout_seconds
    )
    if outcome is PublishOutcome.IN_FLIGHT:
        await session.commit()  # nothing recorded: only lets go of the pair's row
        return in_flight
    await sync.record_queued(command)
    # Not left to the request's unit of work: the fence row is held until the commit, and the
    # writer's pages of the pair wait on it (run all queues many pairs in one request).
    await session.commit()
    context.changes.notify()
    return RunResult("queued", f"run {command.run_id} queued", command)
