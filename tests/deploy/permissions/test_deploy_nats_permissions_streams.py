"""The NATS users of deploy/nats/accounts.conf: each service may do its job and nothing else.

Here dead letters, failures, pages, windows, the call ledger and cancelled runs; how the server
is asked: test_deploy_nats_permissions.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from common.control import CancelRequests
from common.streams import (
    ADVISORIES_STREAM,
    ADVISORY_SUBJECTS,
    BUCKETS,
    DLQ_STREAM,
    FAILURES_DURABLE,
    MOVER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
)
from testkit.nats_permissions import (
    API_TIMEOUT,
    PAGE_SUBJECT,
    WINDOW_SUBJECT,
    Session,
    stream_messages,
    subscriber,
)

pytestmark = [pytest.mark.nats]


async def test_the_writer_records_dead_letters_and_moves_what_ran_out_of_deliveries(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> None:
    # docs/adr/0005-dead-letters.md: the writer hosts the mover (both work queues' advisories)
    # and the "failures" consumer of SYNC_DLQ; the fetcher only dead-letters windows and
    # reports failed attempts.
    writer = await connect("writer")
    js = writer.nc.jetstream(timeout=5)
    # The advisories come from their stream (ADR 0008), through the durable "mover".
    for subject in ADVISORY_SUBJECTS:
        await admin.nc.jetstream().publish(subject, b"{}", stream=ADVISORIES_STREAM)
    advisories = await writer.allowed(
        lambda: js.pull_subscribe(
            ADVISORY_SUBJECTS[0], durable=MOVER_DURABLE, stream=ADVISORIES_STREAM
        )
    )
    for advisory in await writer.allowed(lambda: advisories.fetch(2, timeout=5)):
        await writer.allowed(advisory.ack_sync)
    assert await stream_messages(admin, ADVISORIES_STREAM) == 0
    await writer.allowed(lambda: writer.nc.subscribe("sync.run.failed.>", queue="writer"))
    stored = await admin.nc.jetstream().publish(WINDOW_SUBJECT, b"window", stream=WINDOWS_STREAM)
    original = await writer.allowed(lambda: js.get_msg(WINDOWS_STREAM, stored.seq))
    assert original.data == b"window"
    ack = await writer.allowed(
        lambda: js.publish(f"dlq.{WINDOW_SUBJECT}", b"dead window", stream=DLQ_STREAM)
    )
    await writer.allowed(lambda: js.delete_msg(WINDOWS_STREAM, stored.seq))
    assert await stream_messages(admin, WINDOWS_STREAM) == 0
    subscription = await writer.allowed(
        lambda: js.pull_subscribe("dlq.>", durable=FAILURES_DURABLE, stream=DLQ_STREAM)
    )
    [letter] = await writer.allowed(lambda: subscription.fetch(1, timeout=5))
    assert letter.data == b"dead window" and letter.metadata.sequence.stream == ack.seq
    await writer.allowed(letter.ack_sync)
    # It may not discard dead letters (the admin API's call) nor advise itself.
    await writer.denied(
        "publish",
        f"$JS.API.STREAM.MSG.DELETE.{DLQ_STREAM}",
        lambda: writer.nc.jetstream(timeout=API_TIMEOUT).delete_msg(DLQ_STREAM, ack.seq),
    )
    for subject in ("$JS.EVENT.ADVISORY.>", *ADVISORY_SUBJECTS):
        await writer.denied("subscription", subject, subscriber(writer, subject))


async def test_the_fetcher_reports_failures_but_moves_nothing_off_the_work_queue(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> None:
    fetcher = await connect("fetcher")
    js = fetcher.nc.jetstream(timeout=5)
    await fetcher.allowed(lambda: fetcher.nc.publish("sync.run.failed.orders", b"{}"))
    await fetcher.allowed(
        lambda: js.publish(f"dlq.{WINDOW_SUBJECT}", b"dead window", stream=DLQ_STREAM)
    )
    stored = await admin.nc.jetstream().publish(WINDOW_SUBJECT, b"window", stream=WINDOWS_STREAM)
    quick = fetcher.nc.jetstream(timeout=API_TIMEOUT)
    await fetcher.denied(
        "publish",
        f"$JS.API.STREAM.MSG.DELETE.{WINDOWS_STREAM}",
        lambda: quick.delete_msg(WINDOWS_STREAM, stored.seq),
    )
    assert await stream_messages(admin, WINDOWS_STREAM) == 1
    await fetcher.denied(
        "subscription",
        "sync.run.failed.>",
        lambda: fetcher.nc.subscribe("sync.run.failed.>"),
    )
    await fetcher.denied(
        "publish",
        f"$JS.API.CONSUMER.MSG.NEXT.{DLQ_STREAM}.{FAILURES_DURABLE}",
        lambda: fetcher.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{DLQ_STREAM}.{FAILURES_DURABLE}", b"1"
        ),
    )


@pytest.mark.parametrize("user", ["scheduler", "token-service", "writer", "admin-api"])
async def test_only_the_fetcher_publishes_pages(
    connect: Callable[[str], Awaitable[Session]], admin: Session, user: str
) -> None:
    # The writer takes the pair from a page's subject (ADR 0008): whoever may publish there
    # could write into any account's mirror.
    fetcher = await connect("fetcher")
    ack = await fetcher.allowed(
        lambda: fetcher.nc.jetstream(timeout=5).publish(PAGE_SUBJECT, b"page")
    )
    assert ack.stream == PAGES_STREAM
    other = await connect(user)
    quick = other.nc.jetstream(timeout=API_TIMEOUT)
    await other.denied("publish", PAGE_SUBJECT, lambda: quick.publish(PAGE_SUBJECT, b"forged"))
    await other.denied("publish", PAGE_SUBJECT, lambda: other.nc.publish(PAGE_SUBJECT, b"forged"))
    assert await stream_messages(admin, PAGES_STREAM) == 1


@pytest.mark.parametrize("user", ["scheduler", "admin-api"])
async def test_the_scheduler_and_the_admin_api_publish_windows(
    connect: Callable[[str], Awaitable[Session]], admin: Session, user: str
) -> None:
    session = await connect(user)
    js = session.nc.jetstream(timeout=5)
    ack = await session.allowed(lambda: js.publish(WINDOW_SUBJECT, b"window"))
    assert ack.stream == WINDOWS_STREAM


@pytest.mark.parametrize("user", ["token-service", "fetcher", "writer"])
async def test_nobody_else_publishes_windows(
    connect: Callable[[str], Awaitable[Session]], admin: Session, user: str
) -> None:
    other = await connect(user)
    quick = other.nc.jetstream(timeout=API_TIMEOUT)
    await other.denied("publish", WINDOW_SUBJECT, lambda: quick.publish(WINDOW_SUBJECT, b"forged"))
    await other.denied(
        "publish", WINDOW_SUBJECT, lambda: other.nc.publish(WINDOW_SUBJECT, b"forged")
    )
    assert await stream_messages(admin, WINDOWS_STREAM) == 0


async def test_the_token_service_counts_its_health_checks_in_the_call_ledger_only(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> None:
    service = await connect("token-service")
    js = service.nc.jetstream(timeout=API_TIMEOUT)
    ledger = await service.allowed(lambda: js.key_value(BUCKETS.call_ledger.bucket))
    key = "2026-12-03.other.account.1"
    await service.allowed(lambda: ledger.create(key, b"1"))
    entry = await service.allowed(lambda: ledger.get(key))
    await service.allowed(lambda: ledger.update(key, b"2", last=entry.revision))
    assert (await ledger.get(key)).value == b"2"
    await service.denied(
        "publish",
        "$KV.control.pause_all",
        lambda: service.nc.publish("$KV.control.pause_all", b"on"),
    )
    await service.denied(
        "publish",
        "$KV.fetch_checkpoints.run-1",
        lambda: service.nc.publish("$KV.fetch_checkpoints.run-1", b"page 1"),
    )


async def test_the_fetcher_reads_and_forgets_cancelled_runs_but_flips_no_switch(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> None:
    admin_api = await connect("admin-api")
    asked = uuid.uuid4()
    await admin_api.allowed(lambda: _ask(admin_api, asked))
    fetcher = await connect("fetcher")
    cancels = CancelRequests(
        await fetcher.allowed(lambda: fetcher.nc.jetstream().key_value(BUCKETS.control.bucket))
    )
    assert await fetcher.allowed(lambda: cancels.asked(asked))
    await fetcher.allowed(lambda: cancels.forget(asked))
    assert not await CancelRequests(
        await admin.nc.jetstream().key_value(BUCKETS.control.bucket)
    ).asked(asked)
    await fetcher.denied(
        "publish",
        "$KV.control.pause_all",
        lambda: fetcher.nc.publish("$KV.control.pause_all", b"on"),
    )
    await fetcher.denied(
        "publish",
        "$KV.control.paused_orgs",
        lambda: fetcher.nc.publish("$KV.control.paused_orgs", b"[1]"),
    )


async def _ask(session: Session, run_id: uuid.UUID) -> None:
    kv = await session.nc.jetstream().key_value(BUCKETS.control.bucket)
    await CancelRequests(kv).ask(run_id)
