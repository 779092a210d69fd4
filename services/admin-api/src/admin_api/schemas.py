"""Request and response bodies of the admin API. No body ever carries a token or ciphertext."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from admin_api.domain import TokenHealth
from admin_api.security import Role
from common.families import Purpose
from common.workers import Light


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Body(BaseModel):
    """A request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; say so instead of failing in the driver.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Text that is stored or looked up in the database.
Text = Annotated[str, AfterValidator(_no_nul)]


class Health(Schema):
    status: str
    checks: dict[str, str] = {}


# --- auth and users -----------------------------------------------------------------------

Email = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class LoginIn(Body):
    email: Text = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(Schema):
    id: int
    org_id: int
    email: str
    role: Role
    active: bool


class MeOut(UserOut):
    org_name: str


class LoginOut(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user: MeOut


class UserIn(Body):
    email: Text = Email
    password: str = Field(min_length=10, max_length=1024)
    role: Role


class UserPatch(Body):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=1024)


# --- accounts -----------------------------------------------------------------------------

HouseName = Field(min_length=1, max_length=100, pattern=r"\S")


class AccountOut(Schema):
    id: int
    org_id: int
    house_name: str
    username: str
    ebay_user_id: str
    marketplace_id: str
    site_id: int
    environment: str
    purpose: Purpose
    active: bool
    needs_reauth: bool
    # The seller revoked ebaysync's access (eBay's AUTHORIZATION_REVOCATION): reconnect.
    revoked_at: datetime | None = None
    created_at: datetime
    deactivated_at: datetime | None


class AccountPatch(Body):
    house_name: Text = HouseName


class ConnectIn(Body):
    house_name: Text = HouseName
    environment: Literal["production", "sandbox"] | None = None
    # Which families the account syncs; "both" (everything) unless chosen.
    purpose: Purpose = Purpose.BOTH


class PurposeIn(Body):
    purpose: Purpose


class PurposeOut(AccountOut):
    # Scopes the new purpose needs that the seller has not granted: Reconnect asks for them.
    missing_scopes: list[str]


class ConnectOut(Schema):
    authorize_url: str
    expires_at: datetime


# --- tokens -------------------------------------------------------------------------------


class TokenStatusOut(Schema):
    account_id: int
    house_name: str
    status: TokenHealth
    reason: str
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    last_refresh_at: datetime | None
    refresh_error: str | None
    scopes: list[str]


class RefreshLogOut(Schema):
    id: int
    at: datetime
    reason: str
    outcome: str
    detail: str | None


class ForceRefreshOut(Schema):
    refreshed: bool
    error: str | None
    error_detail: str | None
    token: TokenStatusOut


# --- workers and runs ---------------------------------------------------------------------


class RunOut(Schema):
    run_id: UUID
    account_id: int
    family: str
    trigger: str
    status: str
    window_from: datetime | None
    window_to: datetime
    queued_at: datetime | None
    pages_written: int
    pages_expected: int | None
    rows_received: int
    rows_inserted: int
    rows_changed: int
    rows_unchanged: int
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    trace_id: str | None
    error: str | None
    # Who queued it by hand (run now, repair); None for the scheduler.
    requested_by: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        begin = self.started_at or self.queued_at
        if begin is None or self.finished_at is None:
            return None
        # Clocks of different processes: never show a negative duration.
        return max(0.0, (self.finished_at - begin).total_seconds())


class PageOut(Schema):
    page_no: int
    records: int
    inserted: int
    changed: int
    unchanged: int
    committed_at: datetime
    trace_id: str | None


class RunLogLineOut(Schema):
    id: int
    at: datetime
    source: str
    kind: str
    message: str
    page_no: int | None
    ebay_request_id: str | None


class RunDetailOut(RunOut):
    house_name: str
    pages: list[PageOut]
    # The run's trace in the tracing UI, when ADMIN_API_TRACE_URL_TEMPLATE is set.
    trace_url: str | None = None
    # The run's log, oldest first (its first RUN_LOG_LINES lines; GET …/log pages further).
    log: list[RunLogLineOut] = []


class WindowOut(Schema):
    start: datetime
    end: datetime


class ScheduleOut(Schema):
    family: str
    cursor: datetime | None
    next_due_at: datetime | None
    blocked_by: str | None
    # A snapshot family enumerates everything at its due time: no windows.
    snapshot: bool
    windows: list[WindowOut]
    more_windows: bool


class WorkerOut(Schema):
    """One (account, family) worker as operators see it."""

    account_id: int
    house_name: str
    family: str
    enabled: bool
    status: Light
    status_reason: str
    cursor: datetime | None
    lag_seconds: float | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    paused_until: datetime | None
    next_due_at: datetime | None
    last_run: RunOut | None


class WorkerPatch(Body):
    enabled: bool


class RunQueuedOut(Schema):
    run_id: UUID
    account_id: int
    family: str
    window_from: datetime | None
    window_to: datetime


class RepairIn(Body):
    # Where the cursor goes; by default the family's initial backfill start.
    since: AwareDatetime | None = None


class RepairOut(Schema):
    outcome: Literal["queued", "reset"]
    detail: str
    cursor: datetime | None
    run: RunQueuedOut | None


class RunAllItem(Schema):
    family: str
    outcome: Literal["queued", "in_flight", "up_to_date", "blocked"]
    detail: str
    run: RunQueuedOut | None


class PauseOut(Schema):
    # Whether the caller's org starts no new windows: its own pause or the platform's.
    paused: bool
    org: bool = False
    platform: bool = False


class PauseIn(Body):
    paused: bool
    # "org": the caller's org only (its admins); "platform": every org (superadmins only).
    scope: Literal["org", "platform"] = "org"


# --- operations ---------------------------------------------------------------------------


class DeadLetterOut(Schema):
    sequence: int
    stored_at: datetime | None
    account_id: int | None
    original_subject: str
    original_stream: str | None
    original_sequence: int | None
    reason: str
    deliveries: int | None
    failed_at: datetime


class DeadLetterDetailOut(DeadLetterOut):
    original_headers: dict[str, str]
    original_data_base64: str
    # The body as text (and parsed JSON) when it is UTF-8 (and JSON).
    original_text: str | None
    original_json: Any = None


class ReplayOut(Schema):
    replayed: bool
    subject: str
    stream: str | None
    sequence: int | None


class HeartbeatOut(Schema):
    service: str
    instance: str | None
    status: Literal["up", "stale", "missing"]
    last_seen_at: datetime | None
    age_seconds: float | None
    started_at: datetime | None


class ConsumerOut(Schema):
    stream: str
    durable: str
    num_pending: int | None
    num_ack_pending: int | None
    num_redelivered: int | None
    num_waiting: int | None
    error: str | None = None


class ServicesOut(Schema):
    services: list[HeartbeatOut]
    consumers: list[ConsumerOut]
    paused: bool


class RetentionOut(Schema):
    retention_days: int
    cutoff: datetime
    sync_runs: int
    sync_pages: int
    token_refresh_log: int


class PurgeIn(Body):
    older_than_days: int | None = Field(default=None, ge=1, le=3650)


class EventOut(Schema):
    """One history event: what changed on an entity, with old and new values."""

    id: int
    account_id: int
    house_name: str | None = None
    family: str
    entity_id: str
    change_kind: str
    changed_fields: list[str]
    # Per changed top-level field, {"old": …, "new": …}; null for a created entity.
    changes: dict[str, Any] | None
    # The business event this change raised, if any (ORDER_READY_TO_SHIP, …).
    topic: str | None
    run_id: UUID
    page_no: int | None
    occurred_at: datetime


class EventPageOut(Schema):
    events: list[EventOut]
    # Pass back as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None
