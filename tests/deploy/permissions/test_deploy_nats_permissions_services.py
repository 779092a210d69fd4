"""The NATS users of deploy/nats/accounts.conf: each service may do its job and nothing else.

Here the token service, the scheduler, the admin API, declaring the topology, replies and the
signing key; how the server is asked: test_deploy_nats_permissions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from nats.aio.msg import Msg

from common.streams import (
    BUCKETS,
    DLQ_STREAM,
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
    ensure_topology,
)
from testkit.nats_permissions import (
    API_TIMEOUT,
    PAGE_SUBJECT,
    WINDOW_SUBJECT,
    Session,
    subscriber,
)

pytestmark = [pytest.mark.nats]


async def test_the_token_service_answers_its_requests_once_and_publishes_nothing_else(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> None:
    service = await connect("token-service")
    requester = await connect("fetcher")
    answered: list[str] = []

    async def answer_twice(msg: Msg) -> None:
        assert msg.reply
        answered.append(msg.reply)
        await msg.respond(b"first")
        await msg.respond(b"second")  # one response per request, no more

    await service.allowed(
        lambda: service.nc.subscribe("token.get", queue="token-service", cb=answer_twice)
    )
    mark = len(service.errors)
    reply = await requester.request("token.get")
    assert reply.data == b"first"
    [reply_subject] = answered
    await service.denied("publish", reply_subject, service.nc.flush, since=mark)

    await service.denied("publish", WINDOW_SUBJECT, lambda: service.nc.publish(WINDOW_SUBJECT, b""))
    await service.denied("publish", PAGE_SUBJECT, lambda: service.nc.publish(PAGE_SUBJECT, b""))
    await service.denied(
        "publish", "_INBOX.unasked", lambda: service.nc.publish("_INBOX.unasked", b"token")
    )
    await service.denied(
        "publish",
        f"$JS.API.CONSUMER.MSG.NEXT.{PAGES_STREAM}.{WRITER_DURABLE}",
        lambda: service.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{PAGES_STREAM}.{WRITER_DURABLE}", b"1"
        ),
    )
    await service.denied("subscription", "sync.>", lambda: service.nc.subscribe("sync.>"))


async def test_the_scheduler_plans_holds_its_lease_and_reads_the_switch_but_fetches_nothing(
    connect: Callable[[str], Awaitable[Session]], admin: Session, token_service: Session
) -> None:
    scheduler = await connect("scheduler")
    js = scheduler.nc.jetstream(timeout=5)
    ack = await scheduler.allowed(lambda: js.publish(WINDOW_SUBJECT, b"window"))
    assert ack.stream == WINDOWS_STREAM
    leases = await scheduler.allowed(lambda: js.key_value(BUCKETS.leases.bucket))
    revision = await scheduler.allowed(lambda: leases.create("scheduler_leader", b"me"))
    await scheduler.allowed(lambda: leases.update("scheduler_leader", b"me", last=revision))
    control = await scheduler.allowed(lambda: js.key_value(BUCKETS.control.bucket))
    await admin.nc.jetstream().publish("$KV.control.pause_all", b"off")
    assert (await scheduler.allowed(lambda: control.get("pause_all"))).value == b"off"
    await scheduler.allowed(lambda: js.consumer_info(WINDOWS_STREAM, FETCHER_DURABLE))
    await scheduler.allowed(lambda: scheduler.nc.subscribe("sync.run.completed.>"))
    # The budget reads the day's calls from the ledger, and never counts any of its own.
    await admin.nc.jetstream().publish("$KV.call_ledger.2026-12-04.trading.total", b"7")
    ledger = await scheduler.allowed(lambda: js.key_value(BUCKETS.call_ledger.bucket))
    entry = await scheduler.allowed(lambda: ledger.get("2026-12-04.trading.total"))
    assert entry.value == b"7"

    await scheduler.denied(
        "publish", PAGE_SUBJECT, lambda: scheduler.nc.publish(PAGE_SUBJECT, b"page")
    )
    await scheduler.denied(
        "publish", "token.get", lambda: scheduler.nc.request("token.get", b"{}", timeout=1)
    )
    await scheduler.denied(
        "publish",
        f"$JS.API.CONSUMER.MSG.NEXT.{WINDOWS_STREAM}.{FETCHER_DURABLE}",
        lambda: scheduler.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{WINDOWS_STREAM}.{FETCHER_DURABLE}", b"1"
        ),
    )
    await scheduler.denied(
        "publish",
        "$JS.API.DIRECT.GET.KV_fetch_checkpoints.$KV.fetch_checkpoints.run-1",
        lambda: scheduler.nc.jetstream(timeout=API_TIMEOUT).get_msg(
            "KV_fetch_checkpoints", subject="$KV.fetch_checkpoints.run-1", direct=True
        ),
    )
    await scheduler.denied(
        "publish",
        "$KV.call_ledger.2026-12-04.trading.total",
        lambda: scheduler.nc.publish("$KV.call_ledger.2026-12-04.trading.total", b"0"),
    )


async def test_the_admin_api_runs_now_pauses_and_reads_dead_letters_but_consumes_nothing(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> None:
    api = await connect("admin-api")
    js = api.nc.jetstream(timeout=5)
    ack = await api.allowed(lambda: js.publish(WINDOW_SUBJECT, b"run now"))
    assert ack.stream == WINDOWS_STREAM
    control = await api.allowed(lambda: js.key_value(BUCKETS.control.bucket))
    await api.allowed(lambda: control.put("pause_all", b"on"))
    await admin.nc.jetstream().publish("dlq.sync.page.orders.7", b"dead", stream=DLQ_STREAM)
    letter = await api.allowed(lambda: js.get_msg(DLQ_STREAM, seq=1))
    assert letter.data == b"dead"
    await api.allowed(lambda: js.delete_msg(DLQ_STREAM, 1))
    await api.allowed(lambda: js.consumer_info(PAGES_STREAM, WRITER_DURABLE))
    await api.allowed(lambda: api.nc.subscribe("svc.heartbeat.>"))
    # Run events wake the live views and the notification job.
    await api.allowed(lambda: api.nc.subscribe("sync.run.completed.>"))
    await api.allowed(lambda: api.nc.subscribe("sync.run.failed.>"))

    await api.denied(
        "publish",
        f"$JS.API.CONSUMER.MSG.NEXT.{WINDOWS_STREAM}.{FETCHER_DURABLE}",
        lambda: api.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{WINDOWS_STREAM}.{FETCHER_DURABLE}", b"1"
        ),
    )
    await api.denied("subscription", "token.get", lambda: api.nc.subscribe("token.get"))
    await api.denied(
        "publish",
        "$KV.leases.scheduler_leader",
        lambda: api.nc.publish("$KV.leases.scheduler_leader", b"admin-api"),
    )
    await api.denied(
        "publish",
        f"$JS.API.STREAM.PURGE.{WINDOWS_STREAM}",
        lambda: api.nc.jetstream(timeout=API_TIMEOUT).purge_stream(WINDOWS_STREAM),
    )


@pytest.mark.parametrize("user", ["scheduler", "token-service", "fetcher", "writer", "admin-api"])
async def test_every_service_may_declare_the_topology_it_declares_at_start(
    connect: Callable[[str], Awaitable[Session]], admin: Session, user: str
) -> None:
    # common.streams.ensure_topology runs at every start of every service (see accounts.conf),
    # but no service may delete or purge a stream, or read one through a consumer of its own.
    session = await connect(user)
    js = session.nc.jetstream(timeout=API_TIMEOUT)
    await session.allowed(lambda: ensure_topology(session.nc.jetstream(timeout=5)))
    await session.denied(
        "publish", f"$JS.API.STREAM.DELETE.{PAGES_STREAM}", lambda: js.delete_stream(PAGES_STREAM)
    )
    await session.denied(
        "publish", f"$JS.API.STREAM.PURGE.{PAGES_STREAM}", lambda: js.purge_stream(PAGES_STREAM)
    )
    await session.denied(
        "publish",
        f"$JS.API.CONSUMER.CREATE.{PAGES_STREAM}",
        lambda: js.add_consumer(PAGES_STREAM),
    )


async def test_nobody_overhears_a_reply_meant_for_another_user(
    connect: Callable[[str], Awaitable[Session]], token_service: Session
) -> None:
    # The fetcher's token reply travels on "_INBOX_fetcher.…"; no other user may listen there,
    # nor on the shared "_INBOX.>" where replies used to go.
    fetcher = await connect("fetcher")
    for user in ("writer", "scheduler", "admin-api"):
        eavesdropper = await connect(user)
        for inbox in ("_INBOX_fetcher.>", "_INBOX.>", "_INBOX_token-service.>"):
            await eavesdropper.denied("subscription", inbox, subscriber(eavesdropper, inbox))
    reply = await fetcher.request("token.get")
    assert reply.data == b'{"access_token": "from-the-token-service"}'


async def test_only_the_fetcher_asks_the_token_service_for_the_signing_key(
    connect: Callable[[str], Awaitable[Session]],
) -> None:
    # token.signing_key hands out the app's private signing key: the token service answers it,
    # the fetcher (which signs Finances calls) may ask, and nobody else may ask or listen.
    service = await connect("token-service")

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"private_key": "from-the-token-service"}')

    await service.allowed(
        lambda: service.nc.subscribe("token.signing_key", queue="token-service", cb=answer)
    )
    fetcher = await connect("fetcher")
    reply = await fetcher.request("token.signing_key")
    assert reply.data == b'{"private_key": "from-the-token-service"}'
    await fetcher.denied(
        "subscription", "token.signing_key", subscriber(fetcher, "token.signing_key")
    )
    for user in ("writer", "scheduler", "admin-api"):
        other = await connect(user)
        await other.denied(
            "publish",
            "token.signing_key",
            lambda: other.nc.request("token.signing_key", b"{}", timeout=1),  # noqa: B023
        )
        await other.denied(
            "subscription", "token.signing_key", subscriber(other, "token.signing_key")
        )
