"""Every JetStream stream, consumer and KV bucket of ebaysync, applied create-or-update.

Services bind to what is declared here and never declare anything themselves: FastStream's own
declaration silently overwrites a stream's config, and nats-py binds an existing durable consumer
without applying a changed config (STACK-NOTES §1.1, §1.2). ``ensure_topology`` runs at every
service start and at deploy time; it is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from common.messages import DeadLetter, NotificationReceived, PageBatch, SyncWindow

log = logging.getLogger(__name__)

MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR

WINDOWS_STREAM = "SYNC_WINDOWS"
PAGES_STREAM = "SYNC_PAGES"
DLQ_STREAM = "SYNC_DLQ"
FETCHER_DURABLE = "fetcher"
WRITER_DURABLE = "writer"
# The writer's consumer of SYNC_DLQ: marks each dead letter's run failed (docs/adr/0005).
FAILURES_DURABLE = "failures"
# JetStream's advisories that a work queue's consumer gave up on a message, kept in a stream so
# the writer's mover (durable "mover") cannot lose one to a crash or a failed move (ADR 0008).
ADVISORIES_STREAM = "SYNC_ADVISORIES"
MOVER_DURABLE = "mover"
# eBay's verified push notifications, from the admin API's ingress to the scheduler's consumer
# (docs/adr/0018-push-notifications.md). The dedup window drops eBay's resends of one id.
NOTIFICATIONS_STREAM = "EBAY_NOTIFICATIONS"
NOTIFICATIONS_DURABLE = "notifications"
MAX_DELIVERIES_PREFIX = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
ADVISORY_SUBJECTS = [
    f"{MAX_DELIVERIES_PREFIX}.{WINDOWS_STREAM}.{FETCHER_DURABLE}",
    f"{MAX_DELIVERIES_PREFIX}.{PAGES_STREAM}.{WRITER_DURABLE}",
]

WINDOW_SUBJECTS = f"{SyncWindow.SUBJECT_PREFIX}.>"
PAGE_SUBJECTS = f"{PageBatch.SUBJECT_PREFIX}.>"
DLQ_SUBJECTS = f"{DeadLetter.SUBJECT_PREFIX}.>"
NOTIFICATION_SUBJECTS = f"{NotificationReceived.SUBJECT_PREFIX}.>"

# One message per subject, refusing new ones while it is pending or unacked: the bus itself
# is the per-(account, family) lock (STACK-NOTES §10).
WINDOWS = StreamConfig(
    name=WINDOWS_STREAM,
    subjects=[WINDOW_SUBJECTS],
    retention=RetentionPolicy.WORK_QUEUE,
    storage=StorageType.FILE,
    max_msgs_per_subject=1,
    discard=DiscardPolicy.NEW,
    discard_new_per_subject=True,
    max_age=DAY,
    duplicate_window=2 * MINUTE,
)

PAGES = StreamConfig(
    name=PAGES_STREAM,
    subjects=[PAGE_SUBJECTS],
    retention=RetentionPolicy.WORK_QUEUE,
    storage=StorageType.FILE,
    max_age=7 * DAY,
    # Long enough that a fetcher resuming a window after a crash republishes pages as no-ops.
    duplicate_window=30 * MINUTE,
)

DLQ = StreamConfig(
    name=DLQ_STREAM,
    subjects=[DLQ_SUBJECTS],
    retention=RetentionPolicy.LIMITS,
    storage=StorageType.FILE,
    max_age=14 * DAY,
)

ADVISORIES = StreamConfig(
    name=ADVISORIES_STREAM,
    subjects=ADVISORY_SUBJECTS,
    retention=RetentionPolicy.WORK_QUEUE,
    storage=StorageType.FILE,
    max_age=7 * DAY,
)

NOTIFICATIONS = StreamConfig(
    name=NOTIFICATIONS_STREAM,
    subjects=[NOTIFICATION_SUBJECTS],
    retention=RetentionPolicy.WORK_QUEUE,
    storage=StorageType.FILE,
    max_age=DAY,
    # eBay resends an unacknowledged notification for hours: the database's unique key holds
    # longer, the stream's window drops the quick repeats without a query.
    duplicate_window=HOUR,
)


def _durable(
    name: str, subject: str | None, *, max_deliver: int, max_ack_pending: int
) -> ConsumerConfig:
    """A durable consumer as every one of ours is: a message is acked explicitly once handled
    (at least once), from the stream's start, and redelivered after a minute without an ack."""
    return ConsumerConfig(
        durable_name=name,
        filter_subject=subject,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=60.0,
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
    )


# The fetcher heartbeats with in_progress() while it pages, so ack_wait only has to cover a
# stalled process, not a long window.
FETCHER = _durable(FETCHER_DURABLE, WINDOW_SUBJECTS, max_deliver=10, max_ack_pending=256)
WRITER = _durable(WRITER_DURABLE, PAGE_SUBJECTS, max_deliver=10, max_ack_pending=512)
# The DLQ keeps its letters (limits retention): one that was never recorded stays listed.
FAILURES = _durable(FAILURES_DURABLE, DLQ_SUBJECTS, max_deliver=20, max_ack_pending=64)
# A move that fails (database, DLQ) is retried with a growing delay for as long as it takes:
# the advisory is the only pointer to a message stuck in its work queue.
MOVER = _durable(MOVER_DURABLE, None, max_deliver=-1, max_ack_pending=64)


@dataclass(frozen=True)
class Buckets:
    """KV bucket names and their configs."""

    checkpoints: KeyValueConfig
    leases: KeyValueConfig
    control: KeyValueConfig
    call_ledger: KeyValueConfig
    learned_limits: KeyValueConfig

    def all(self) -> tuple[KeyValueConfig, ...]:
        return (
            self.checkpoints,
            self.leases,
            self.control,
            self.call_ledger,
            self.learned_limits,
        )


BUCKETS = Buckets(
    # The fetcher's page checkpoint per run: where a redelivered window resumes.
    checkpoints=KeyValueConfig(bucket="fetch_checkpoints", ttl=2 * DAY, storage=StorageType.FILE),
    # The bucket TTL is the lease TTL: every renewal writes a new revision (STACK-NOTES §5.4).
    leases=KeyValueConfig(bucket="leases", ttl=15.0, storage=StorageType.FILE),
    # Operator switches such as pause-all.
    control=KeyValueConfig(bucket="control", storage=StorageType.FILE),
    # eBay calls per day, API and account, shared by every fetcher replica (common.ledger);
    # a day's keys outlive it by a day, then expire.
    call_ledger=KeyValueConfig(bucket="call_ledger", ttl=2 * DAY, storage=StorageType.FILE),
    # Page sizes and date ranges learned from eBay's refusals (common.ebay.learned), kept for
    # good: an operator deletes a key to let the fetcher try the documented value again.
    learned_limits=KeyValueConfig(bucket="learned_limits", storage=StorageType.FILE),
)

PAUSE_ALL_KEY = "pause_all"
# The orgs an org admin paused, as a JSON list of org ids (one key, updated compare-and-set).
PAUSED_ORGS_KEY = "paused_orgs"
SCHEDULER_LEADER_KEY = "scheduler_leader"

# The scheduler's consumer of eBay's notifications: each becomes a targeted window.
NOTIFICATION_CONSUMER = _durable(
    NOTIFICATIONS_DURABLE, NOTIFICATION_SUBJECTS, max_deliver=20, max_ack_pending=256
)


async def _ensure_stream(js: JetStreamContext, config: StreamConfig, replicas: int | None) -> None:
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(replace(config, num_replicas=replicas or 1))
        log.info("created stream %s", config.name)
        return
    # Without a replica count, keep the one the stream has: a service starting on a cluster
    # must not shrink an R3 stream to R1.
    await js.update_stream(replace(config, num_replicas=replicas or info.config.num_replicas))


async def _ensure_bucket(
    js: JetStreamContext, config: KeyValueConfig, replicas: int | None
) -> None:
    try:
        info = await js.stream_info(f"KV_{config.bucket}")  # KV buckets are streams
    except NotFoundError:
        await js.create_key_value(replace(config, replicas=replicas or 1))
        return
    info.config.max_age = config.ttl
    if replicas:
        info.config.num_replicas = replicas
    await js.update_stream(info.config)


async def ensure_topology(js: JetStreamContext, replicas: int | None = None) -> None:
    """Create or update every stream, durable consumer and bucket.

    ``replicas`` sets how many copies each stream keeps (3 on a cluster); None keeps what
    exists and creates missing streams with one. Consumers follow their stream.
    """
    for stream in (WINDOWS, PAGES, DLQ, ADVISORIES, NOTIFICATIONS):
        await _ensure_stream(js, stream, replicas)
    # add_consumer is create-or-update on the server, unlike binding a durable.
    await js.add_consumer(WINDOWS_STREAM, FETCHER)
    await js.add_consumer(PAGES_STREAM, WRITER)
    await js.add_consumer(DLQ_STREAM, FAILURES)
    await js.add_consumer(ADVISORIES_STREAM, MOVER)
    await js.add_consumer(NOTIFICATIONS_STREAM, NOTIFICATION_CONSUMER)
    for bucket in BUCKETS.all():
        await _ensure_bucket(js, bucket, replicas)
