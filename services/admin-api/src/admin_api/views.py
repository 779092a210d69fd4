"""Read models the routes and live streams share: workers, token health, run details."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.domain import token_verdict
from admin_api.schemas import (
    PageOut,
    RunDetailOut,
    RunLogLineOut,
    RunOut,
    ScheduleOut,
    TokenStatusOut,
    WindowOut,
    WorkerOut,
)
from admin_api.settings import AdminApiSettings
from common.budget import planned_policies
from common.db.accounts import AccountRepository, EbayAccount
from common.db.budget import BudgetRepository
from common.db.runlog import RunLogRepository
from common.db.sync import OPEN_RUN_STATUSES, PairState, SyncRepository, SyncRun, SyncState
from common.db.tokens import TokenRepository
from common.families import Family, families_of
from common.lag import pair_lag
from common.scheduling import Projection, project_schedule
from common.windows import WindowPolicy
from common.workers import (
    SEVERITY,
    NewestRun,
    WorkerFacts,
    account_blocked,
    worker_facts,
    worker_verdict,
)


def _facts(
    account: EbayAccount,
    family: str,
    state: SyncState | None,
    run: SyncRun | None,
    now: datetime,
) -> WorkerFacts:
    return worker_facts(
        family=family,
        enabled=state.enabled if state else True,
        cursor=state.cursor if state else None,
        last_success_at=state.last_success_at if state else None,
        paused_until=state.paused_until if state else None,
        last_error=state.last_error if state else None,
        consecutive_failures=state.consecutive_failures if state else 0,
        run=None
        if run is None
        else NewestRun(
            run.run_id, run.status, run.updated_at, run.error, run.pages_written, run.pages_expected
        ),
        blocked=account_blocked(account),
        now=now,
    )


def blocked_by(
    account: EbayAccount, state: SyncState | None, run: SyncRun | None, now: datetime, paused: bool
) -> str | None:
    """Why the scheduler will not send this pair's next window now, if it will not."""
    if reason := account_blocked(account):
        return reason
    if state is not None and not state.enabled:
        return "worker disabled"
    if state is not None and state.paused_until is not None and state.paused_until > now:
        return f"paused until {state.paused_until:%Y-%m-%d %H:%M} UTC"
    if paused:
        return "pause is on"
    if run is not None and run.status in OPEN_RUN_STATUSES:
        return "a run is in flight; the next window follows it"
    return None


def projection_for(
    account: EbayAccount,
    family: Family,
    state: SyncState | None,
    run: SyncRun | None,
    now: datetime,
    policy: WindowPolicy,
    paused: bool,
) -> Projection:
    """The scheduler's own plan for the pair, from what the database says of it (``policy``:
    :func:`window_policies`, the budget plan's cadences as the scheduler polls by them)."""
    pair = PairState(
        account_id=account.id,
        family=family,
        enabled=state.enabled if state else True,
        cursor=state.cursor if state else None,
        paused_until=state.paused_until if state else None,
        last_success_at=state.last_success_at if state else None,
        in_flight=run is not None and run.status in OPEN_RUN_STATUSES,
        quiet_runs=state.quiet_runs if state else 0,
    )
    return project_schedule(
        pair,
        now,
        policy,
        blocked_by=blocked_by(account, state, run, now, paused),
        limit=10,
    )


async def window_policies(
    session: AsyncSession, settings: AdminApiSettings
) -> dict[Family, WindowPolicy]:
    """The policies the scheduler polls by: the configured ones with the latest stored budget
    plan's intervals (``common.budget.planned_policies``, as the scheduler applies them)."""
    configured = {family: settings.window.policy(family) for family in Family}
    return planned_policies(configured, await BudgetRepository(session).latest())


async def workers_for(
    session: AsyncSession,
    accounts: Sequence[EbayAccount],
    now: datetime,
    settings: AdminApiSettings,
    paused: bool,
) -> list[WorkerOut]:
    sync = SyncRepository(session)
    ids = [a.id for a in accounts]
    states = await sync.states_for_accounts(ids)
    runs = await sync.latest_runs_for_accounts(ids)
    policies = await window_policies(session, settings)
    workers = []
    for account in accounts:
        # Only the families the account's purpose syncs, even those it synced before a change.
        known = (
            {*map(str, Family)}
            | {f for (a, f) in states if a == account.id}
            | {f for (a, f) in runs if a == account.id}
        )
        families = sorted(known & set(map(str, families_of(account.purpose))))
        for family in families:
            state, run = states.get((account.id, family)), runs.get((account.id, family))
            policy = settings.window.policy(Family(family))
            verdict = worker_verdict(_facts(account, family, state, run, now), now, policy)
            cursor = state.cursor if state else None
            lag = pair_lag(family, cursor, state.last_success_at, now) if state else None
            projection = projection_for(
                account, Family(family), state, run, now, policies[Family(family)], paused
            )
            workers.append(
                WorkerOut(
                    account_id=account.id,
                    house_name=account.house_name,
                    family=family,
                    enabled=state.enabled if state else True,
                    status=verdict.light,
                    status_reason=verdict.reason,
                    cursor=cursor,
                    lag_seconds=lag.total_seconds() if lag is not None else None,
                    last_success_at=state.last_success_at if state else None,
                    last_error=state.last_error if state else None,
                    last_error_at=state.last_error_at if state else None,
                    consecutive_failures=state.consecutive_failures if state else 0,
                    paused_until=state.paused_until if state else None,
                    next_due_at=projection.next_due_at,
                    last_run=RunOut.model_validate(run) if run else None,
                )
            )
    return workers


def by_severity(workers: list[WorkerOut]) -> list[WorkerOut]:
    return sorted(
        workers, key=lambda w: (SEVERITY.index(w.status), -(w.lag_seconds or 0), w.house_name)
    )


async def schedule_for(
    session: AsyncSession,
    account: EbayAccount,
    now: datetime,
    settings: AdminApiSettings,
    paused: bool,
) -> list[ScheduleOut]:
    sync = SyncRepository(session)
    states = await sync.states_for_accounts([account.id])
    runs = await sync.latest_runs_for_accounts([account.id])
    policies = await window_policies(session, settings)
    out = []
    for family in sorted(map(str, families_of(account.purpose))):
        state, run = states.get((account.id, family)), runs.get((account.id, family))
        cursor = state.cursor if state else None
        projection = projection_for(
            account, Family(family), state, run, now, policies[Family(family)], paused
        )
        out.append(
            ScheduleOut(
                family=family,
                cursor=cursor,
                next_due_at=projection.next_due_at,
                blocked_by=projection.blocked_by,
                snapshot=projection.snapshot,
                windows=[WindowOut(start=w.start, end=w.end) for w in projection.windows],
                more_windows=projection.more_windows,
            )
        )
    return out


async def token_statuses(
    session: AsyncSession, accounts: Sequence[EbayAccount], now: datetime, soon: timedelta
) -> list[TokenStatusOut]:
    rows = await TokenRepository(session).statuses([a.id for a in accounts])
    out = []
    for account in accounts:
        row = rows.get(account.id)
        verdict = token_verdict(row, account.needs_reauth, now, soon)
        out.append(
            TokenStatusOut(
                account_id=account.id,
                house_name=account.house_name,
                status=verdict.status,
                reason=verdict.reason,
                access_token_expires_at=row.access_token_expires_at if row else None,
                refresh_token_expires_at=row.refresh_token_expires_at if row else None,
                last_refresh_at=row.last_refresh_at if row else None,
                refresh_error=row.refresh_error if row else None,
                scopes=row.scopes.split() if row else [],
            )
        )
    return out


# The run page shows (and streams) a run's first lines; longer logs are paged or downloaded.
RUN_LOG_LINES = 500


async def run_detail(
    session: AsyncSession, org_id: int, run_id: UUID, trace_url_template: str | None = None
) -> RunDetailOut | None:
    """The run with its pages, if it belongs to an account of the org."""
    sync = SyncRepository(session)
    run = await sync.get_run(run_id)
    if run is None:
        return None
    account = await AccountRepository(session).get_for_org(org_id, run.account_id)
    if account is None:
        return None
    pages = await sync.pages_for_run(run_id)
    log = await RunLogRepository(session).lines(run_id, limit=RUN_LOG_LINES)
    return RunDetailOut(
        **RunOut.model_validate(run).model_dump(exclude={"duration_seconds"}),
        house_name=account.house_name,
        pages=[PageOut.model_validate(p) for p in pages],
        log=[RunLogLineOut.model_validate(line) for line in log],
        trace_url=(
            trace_url_template.format(trace_id=run.trace_id)
            if trace_url_template and run.trace_id
            else None
        ),
    )
