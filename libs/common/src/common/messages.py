"""Every NATS message contract of ebaysync, in one place.

Each message is a frozen pydantic model that names its own subject and its deduplication id
(sent as ``Nats-Msg-Id``), so no subject string is written twice. Contracts only grow: a
breaking change is a new model on a new subject. Commands are imperative, events past tense.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, SecretStr

from common.families import Family

# A secret that crosses the wire in clear (inside the TLS-protected bus) but never in a repr,
# log line or span: pydantic masks SecretStr everywhere except in this JSON serializer.
WireSecret = Annotated[
    SecretStr, PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json")
]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    CATCH_UP = "catch_up"
    MANUAL = "manual"
    # An operator reset the pair's cursor and re-syncs from there (``ebaysync repair``).
    REPAIR = "repair"
    # eBay pushed a change: a targeted window fetches just the ids it named (docs/adr/0018).
    NOTIFICATION = "notification"


# Account ids are PostgreSQL bigints: a larger one names no row, and would fail every query.
MAX_ACCOUNT_ID = 2**63 - 1
AccountId = Annotated[int, Field(ge=1, le=MAX_ACCOUNT_ID)]
# Ids one targeted window may carry: more pending ids than this become the next window.
MAX_TARGETS = 100


# --- sync pipeline ------------------------------------------------------------------------


class RunMessage(Message):
    """What every message of one run carries: the run and the window it fetches."""

    # Its subject is ``<SUBJECT_PREFIX>.<family>.<account>``.
    SUBJECT_PREFIX: ClassVar[str]

    run_id: UUID
    account_id: AccountId
    family: Family
    # None for snapshot families, which enumerate everything.
    window_from: AwareDatetime | None
    window_to: AwareDatetime
    trigger: Trigger
    # The pair's fencing number when the scheduler queued this run (docs/adr/0011-fencing.md):
    # the writer refuses pages of a run older than the pair's newest. 0: sent before fencing.
    fence: int = Field(default=0, ge=0)

    def run_fields(self) -> dict[str, Any]:
        """The fields every message of this run shares, to build another of them (a page from
        its window): the window's own extras (targets, committed run, issue time) stay out."""
        return self.model_dump(include=set(RunMessage.model_fields) - {"version"})


class SyncWindow(RunMessage):
    """Command: fetch one window of one family for one account.

    JetStream keeps at most one such message per subject, so at most one window per
    (account, family) is in flight.
    """

    SUBJECT_PREFIX: ClassVar[str] = "sync.window"

    issued_at: AwareDatetime
    # A targeted window (trigger ``notification``): fetch exactly these eBay ids (orders,
    # items, messages, returns, inquiries, per family) and nothing by time. It covers no time
    # range, so it never moves the pair's cursor (docs/adr/0018-push-notifications.md).
    targets: list[str] | None = Field(default=None, max_length=MAX_TARGETS)
    # The pair's last run whose last page committed (``sync_state.last_run_id``) when the
    # scheduler took this run's fence: the fetcher trusts what that run recorded to spare calls
    # (refresh phases, unchanged messages), and nothing any other run recorded
    # (docs/adr/0021-cheaper-runs.md). None: trust nothing, fetch every phase.
    committed_run: UUID | None = None

    @property
    def is_targeted(self) -> bool:
        return self.targets is not None

    @property
    def subject(self) -> str:
        return f"{self.SUBJECT_PREFIX}.{self.family}.{self.account_id}"

    @property
    def subject_name(self) -> str:
        """The subject without the account: for span names and metric labels."""
        return f"{self.SUBJECT_PREFIX}.{self.family}.{{account}}"

    @property
    def message_id(self) -> str:
        # A scheduled window is identified by where it starts, so a repeated publish of the same
        # window (retry, second scheduler) is dropped; a manual run is always new.
        if (
            self.trigger in (Trigger.MANUAL, Trigger.REPAIR, Trigger.NOTIFICATION)
            or self.window_from is None
        ):
            return f"run:{self.run_id}"
        return f"win:{self.account_id}:{self.family}:{self.window_from.isoformat()}"


class PageNote(BaseModel):
    """A line for the run's log that the fetcher saw while fetching a page: the window's start,
    a retried call with its reason and eBay's request id. It travels with the page and is
    stored in the page's transaction (``common.db.runlog``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    kind: Literal["start", "retry"]
    message: str = Field(max_length=2_000)
    ebay_request_id: str | None = Field(default=None, max_length=200)


class PageBatch(RunMessage):
    """Event: one fetched page of raw eBay objects, ready to be written."""

    SUBJECT_PREFIX: ClassVar[str] = "sync.page"

    page_no: int = Field(ge=1)
    # The last page of the window carries how many pages the window has in all.
    page_count: int | None = Field(default=None, ge=1)
    fetched_at: AwareDatetime
    records: list[dict[str, Any]]
    # Snapshot families, on the last page: True when the fetch enumerated everything, so rows
    # the snapshot no longer holds may be marked ended; False (or absent) sweeps nothing.
    snapshot_complete: bool | None = None
    # What the fetcher has to say about this page for the run's log (bounded: one start, and a
    # page's retries are bounded by FETCHER_PAGE_RETRY_ATTEMPTS).
    notes: list[PageNote] = Field(default_factory=list, max_length=50)

    @property
    def is_last(self) -> bool:
        return self.page_count is not None

    @property
    def subject(self) -> str:
        return f"{self.SUBJECT_PREFIX}.{self.family}.{self.account_id}"

    @property
    def message_id(self) -> str:
        return f"{self.run_id}:{self.page_no}"


class WindowCompleted(Message):
    """Event: the writer committed a window's last page and advanced the cursor."""

    SUBJECT_PREFIX: ClassVar[str] = "sync.run.completed"

    run_id: UUID
    account_id: int
    family: Family
    cursor: AwareDatetime | None
    completed_at: AwareDatetime

    @property
    def subject(self) -> str:
        return f"{self.SUBJECT_PREFIX}.{self.family}"


class WindowFailed(Message):
    """Event (core NATS, not stored): one delivery of a window failed and will be retried.

    The writer counts it towards the pair's circuit breaker. Best effort: a lost one only makes
    the breaker open one failure later.
    """

    SUBJECT_PREFIX: ClassVar[str] = "sync.run.failed"

    run_id: UUID
    account_id: int
    family: Family
    # Which delivery of the window failed (1 for the first).
    attempt: int = Field(ge=1)
    error: str
    failed_at: AwareDatetime

    @property
    def subject(self) -> str:
        return f"{self.SUBJECT_PREFIX}.{self.family}"


class NotificationReceived(Message):
    """Event: eBay pushed a notification, its signature verified and its id seen the first
    time. Stored in ``EBAY_NOTIFICATIONS`` (dedup by ``Nats-Msg-Id`` = the notification id);
    the scheduler turns it into a targeted window (docs/adr/0018-push-notifications.md).

    The ingress resolves nothing: the seller is named as eBay named it, and the scheduler
    finds the account.
    """

    SUBJECT_PREFIX: ClassVar[str] = "ebay.notification"

    notification_id: str = Field(min_length=1, max_length=256)
    # "rest" (Notification API) or "trading" (Platform Notifications).
    source: Literal["rest", "trading"]
    # REST topic (ORDER_CONFIRMATION, ...) or Trading event name (FixedPriceTransaction, ...).
    topic: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")
    # The seller as the payload names it: an eBay user id (REST data.user.userId, ...) or a
    # username (NEW_MESSAGE, Trading RecipientUserID).
    ebay_user_id: str | None = Field(default=None, max_length=256)
    username: str | None = Field(default=None, max_length=256)
    # Which family to sync and which of its ids changed (common.push.targets_of).
    family: Family | None = None
    targets: list[str] = Field(default_factory=list, max_length=MAX_TARGETS)
    event_date: AwareDatetime | None = None
    received_at: AwareDatetime

    @property
    def subject(self) -> str:
        return f"{self.SUBJECT_PREFIX}.{self.source}.{self.topic}"

    @property
    def message_id(self) -> str:
        return f"ntf:{self.source}:{self.notification_id}"


# --- token service (request/reply over core NATS) ------------------------------------------


class TokenErrorCode(StrEnum):
    UNKNOWN_ACCOUNT = "unknown_account"
    NEEDS_REAUTH = "needs_reauth"
    REFRESH_FAILED = "refresh_failed"


class GetAccessToken(Message):
    """Request: an access token for an account, refreshed first if expired or when forced."""

    SUBJECT: ClassVar[str] = "token.get"

    account_id: int
    # A fetcher that got a 401 with the current token asks for a new one.
    force_refresh: bool = False
    # ``token_fingerprint`` of the token eBay refused. When the stored token is already another
    # one (a replica refreshed it meanwhile), the forced request gets that one: one refresh per
    # rejected token, however many fetchers saw the 401. None (e.g. an operator's "force
    # refresh") always refreshes.
    rejected_token_sha256: str | None = None


def token_fingerprint(token: SecretStr) -> str:
    """Names a token without revealing it (SHA-256 of a high-entropy secret is one-way)."""
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()


class AccessTokenReply(Message):
    account_id: int
    access_token: WireSecret | None = None
    expires_at: AwareDatetime | None = None
    # Where the account sells: Trading, Post-Order and Finances calls are addressed with it.
    marketplace_id: str | None = None
    site_id: int | None = None
    # The account's eBay environment: its calls go to that environment's hosts
    # (``common.environments``); None from a token service that predates it.
    environment: str | None = None
    error: TokenErrorCode | None = None
    error_detail: str | None = None


class ConnectAccount(Message):
    """Request: exchange an OAuth authorization code and store the account's tokens."""

    SUBJECT: ClassVar[str] = "token.connect"

    account_id: int
    authorization_code: WireSecret
    # The scopes the consent asked for (space-separated), kept to refresh with; None: the
    # token service's configured scopes.
    scopes: str | None = None


class ConnectAccountReply(Message):
    account_id: int
    connected: bool
    refresh_token_expires_at: AwareDatetime | None = None
    error_detail: str | None = None


class GetSigningKey(Message):
    """Request: the application's key pair for signing eBay calls (EU/UK sellers' Finances).

    Only the token service holds the application's credentials: it creates the key pair once
    (Key Management, with an application token) and keeps the private key encrypted.
    """

    SUBJECT: ClassVar[str] = "token.signing_key"

    # Whose keyset's key pair (``common.environments``); None: the ``EBAY_*`` keyset's.
    environment: str | None = None


class SigningKeyReply(Message):
    signing_key_id: str | None = None
    cipher: str | None = None  # ED25519 | RSA
    # Sent as x-ebay-signature-key; opaque (eBay's encryption of the public key).
    jwe: str | None = None
    # base64 of the PKCS#8 DER private key.
    private_key: WireSecret | None = None
    expires_at: AwareDatetime | None = None
    error_detail: str | None = None


def encoded(message: Message) -> bytes:
    """The wire form of a message (secrets revealed only here)."""
    return message.model_dump_json().encode()


# --- operations ---------------------------------------------------------------------------


class DeadLetter(Message):
    """Event: a message that could not be handled, kept in ``SYNC_DLQ`` with why it failed.

    It carries the original message whole (subject, headers, body as base64), so the admin API
    can show it and replay it to where it came from.
    """

    SUBJECT_PREFIX: ClassVar[str] = "dlq"

    original_subject: str
    original_headers: dict[str, str] = Field(default_factory=dict)
    original_data_base64: str
    # Where the original was stored, when it came from a stream.
    original_stream: str | None = None
    original_sequence: int | None = None
    # The account it belongs to, when known (the admin API shows a dead letter to its org only).
    account_id: int | None = None
    reason: str
    deliveries: int | None = None
    failed_at: AwareDatetime

    @property
    def subject(self) -> str:
        return f"{self.SUBJECT_PREFIX}.{self.original_subject}"

    @property
    def message_id(self) -> str:
        if self.original_stream is not None and self.original_sequence is not None:
            return f"dlq:{self.original_stream}:{self.original_sequence}"
        return f"dlq:{self.original_subject}:{self.failed_at.isoformat()}"

    @property
    def original_data(self) -> bytes:
        return base64.b64decode(self.original_data_base64)

    @classmethod
    def of(cls, subject: str, data: bytes, **fields: Any) -> DeadLetter:
        """A dead letter for the raw message ``data`` published on ``subject``."""
        return cls(
            original_subject=subject,
            original_data_base64=base64.b64encode(data).decode(),
            **fields,
        )


class ServiceHeartbeat(Message):
    """Event (core NATS, not stored): a service instance is alive; sent every few seconds.

    The admin API keeps the last one per service and instance to show service health.
    """

    SUBJECT_PREFIX: ClassVar[str] = "svc.heartbeat"

    service: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    instance: str
    started_at: AwareDatetime
    sent_at: AwareDatetime
    # How often this instance sends one: a heartbeat older than a few intervals is stale.
    interval_seconds: float = Field(default=10.0, gt=0)

    @property
    def subject(self) -> str:
        return f"{self.SUBJECT_PREFIX}.{self.service}"
