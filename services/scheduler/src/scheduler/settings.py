"""Settings of the scheduler."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.budget import BudgetSettings
from common.ledger import DailyQuotas
from common.service import ServiceBaseSettings
from common.settings import (
    PostgresField,
    PostgresSettings,
    WindowSettings,
)


class SchedulerSettings(WindowSettings, ServiceBaseSettings):
    """The window policy (cadence, overlap, settle lag, max window, initial backfill) comes from
    the shared ``WindowSettings``: same ``SCHEDULER_*`` names, also read by the admin API."""

    model_config = SettingsConfigDict(
        env_prefix="SCHEDULER_", env_nested_delimiter="__", extra="ignore"
    )

    database: PostgresSettings = PostgresField

    tick_seconds: float = 5.0
    # A completed window wakes the planner early (a pair still behind goes on at once); it
    # first gathers the completions of this long, so that one tick plans many of them.
    wake_gather_seconds: float = 0.1
    # Plan in the time of the clock served here (the eBay sandbox's ``/sandbox/clock``) instead
    # of the machine's, so a sandbox whose clock is frozen or moved keeps windows consistent.
    clock_url: str | None = None
    # A queued or running run that has not moved for this long no longer blocks its pair.
    stale_run_seconds: float = 1800.0
    # Turn eBay's notifications (stream EBAY_NOTIFICATIONS) into targeted windows
    # (docs/adr/0018-push-notifications.md); off, notifications are still recorded (dedup,
    # counters, pending ids) and polling alone syncs.
    targeted_windows: bool = True
    # Plan every eBay call inside the daily quotas (docs/adr/0017-budget.md): the families'
    # freshness, the share of each quota, the per-pair backoff. With calls to spare it polls
    # at the cadences above; off: the fixed cadences, whatever the quotas.
    budget_enabled: bool = True
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    # The application's daily quotas, as the fetchers' ledger counts them (EBAY_QUOTA_<API>).
    quotas: DailyQuotas = Field(default_factory=DailyQuotas)
