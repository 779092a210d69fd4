"""Response bodies of the admin API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Health(Schema):
    status: str
    checks: dict[str, str] = {}


class AccountOut(Schema):
    id: int
    org_id: int
    house_name: str
    username: str
    ebay_user_id: str
    marketplace_id: str
    site_id: int
    environment: str
    active: bool
    needs_reauth: bool


class RunOut(Schema):
    run_id: UUID
    trigger: str
    status: str
    window_from: datetime | None
    window_to: datetime
    pages_written: int
    pages_expected: int | None
    rows_received: int
    rows_inserted: int
    rows_changed: int
    rows_unchanged: int
    started_at: datetime | None
    finished_at: datetime | None
    trace_id: str | None
    error: str | None


class WorkerOut(Schema):
    """One (account, family) worker as operators see it."""

    family: str
    enabled: bool
    cursor: datetime | None
    lag_seconds: float | None
    last_success_at: datetime | None
    last_error: str | None
    paused_until: datetime | None
    last_run: RunOut | None
