"""The NATS users of deploy/nats/accounts.conf: each service may do its job and nothing else.

Here who gets in, the fetcher and the writer; the other services in ..._services, streams, pages
and windows in ..._streams.

A real nats-server runs deploy/nats/single.conf (which includes accounts.conf) on loopback.
Every allowed operation must succeed with no violation reported; every denied one must be
refused by the server — the permissions violation arrives through nats-py's error callback —
and must have no effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from embedded_servers import EmbeddedNats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from common.streams import (
    BUCKETS,
    FETCHER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
)
from testkit.nats_permissions import (
    API_TIMEOUT,
    PAGE_SUBJECT,
    PASSWORDS,
    WINDOW_SUBJECT,
    Session,
    stream_messages,
)

pytestmark = [pytest.mark.nats]


async def test_nobody_gets_in_without_a_known_user_and_its_password(
    secured_nats: EmbeddedNats,
) -> None:
    async def ignore(exc: Exception) -> None:
        pass

    for url in (
        f"nats://{secured_nats.host}:{secured_nats.port}",
        f"nats://fetcher:{PASSWORDS['writer']}@{secured_nats.host}:{secured_nats.port}",
        f"nats://stranger:{PASSWORDS['fetcher']}@{secured_nats.host}:{secured_nats.port}",
    ):
        client = NatsClient()
        with pytest.raises(NatsError, match="Authorization Violation"):
            await client.connect(url, allow_reconnect=False, error_cb=ignore)
        await client.close()


async def test_the_fetcher_requests_tokens_consumes_windows_publishes_pages_and_checkpoints(
    connect: Callable[[str], Awaitable[Session]], admin: Session, token_service: Session
) -> None:
    fetcher = await connect("fetcher")
    js = fetcher.nc.jetstream(timeout=5)
    reply = await fetcher.request("token.get")
    assert reply.data == b'{"access_token": "from-the-token-service"}'

    await admin.nc.jetstream().publish(WINDOW_SUBJECT, b"window", stream=WINDOWS_STREAM)
    subscription = await fetcher.allowed(
        lambda: js.pull_subscribe(WINDOW_SUBJECT, durable=FETCHER_DURABLE, stream=WINDOWS_STREAM)
    )
    [window] = await fetcher.allowed(lambda: subscription.fetch(1, timeout=5))
    assert window.data == b"window"
    await fetcher.allowed(window.in_progress)
    await fetcher.allowed(window.ack_sync)
    assert await stream_messages(admin, WINDOWS_STREAM) == 0  # acked off the work queue

    ack = await fetcher.allowed(lambda: js.publish(PAGE_SUBJECT, b"page", stream=PAGES_STREAM))
    assert ack.stream == PAGES_STREAM
    kv = await fetcher.allowed(lambda: js.key_value(BUCKETS.checkpoints.bucket))
    await fetcher.allowed(lambda: kv.put("run-1", b"page 3"))
    entry = await fetcher.allowed(lambda: kv.get("run-1"))
    assert entry.value == b"page 3"
    # limits learned from eBay's refusals, shared by every fetcher (common.ebay.learned)
    learned = await fetcher.allowed(lambda: js.key_value(BUCKETS.learned_limits.bucket))
    await fetcher.allowed(lambda: learned.put("postorder.inquiry.limit", b"50"))
    assert (await fetcher.allowed(lambda: learned.get("postorder.inquiry.limit"))).value == b"50"


async def test_the_fetcher_can_neither_answer_nor_intercept_token_requests(
    connect: Callable[[str], Awaitable[Session]], admin: Session, token_service: Session
) -> None:
    fetcher = await connect("fetcher")
    overheard: list[Msg] = []

    async def keep(msg: Msg) -> None:
        overheard.append(msg)

    def subscribe(subject: str) -> Callable[[], Awaitable[Any]]:
        return lambda: fetcher.nc.subscribe(subject, cb=keep)

    for subject in ("token.get", "token.connect", "token.>", ">"):
        await fetcher.denied("subscription", subject, subscribe(subject))
    # Someone else's request is answered by the token service alone; the fetcher sees nothing.
    other = await connect("admin-api")
    reply = await other.request("token.get")
    assert reply.data == b'{"access_token": "from-the-token-service"}'
    await asyncio.sleep(0.2)
    assert overheard == []
    # Nor may it connect accounts (the authorization-code exchange).
    await fetcher.denied(
        "publish", "token.connect", lambda: fetcher.nc.request("token.connect", b"{}", timeout=1)
    )


async def test_the_fetcher_cannot_schedule_read_leases_flip_switches_or_take_pages(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> None:
    fetcher = await connect("fetcher")
    js = fetcher.nc.jetstream(timeout=API_TIMEOUT)
    await fetcher.denied(
        "publish", WINDOW_SUBJECT, lambda: fetcher.nc.publish(WINDOW_SUBJECT, b"window")
    )
    assert await stream_messages(admin, WINDOWS_STREAM) == 0

    leases = await admin.nc.jetstream().key_value(BUCKETS.leases.bucket)
    await leases.put("scheduler_leader", b"the-scheduler")
    await fetcher.denied(
        "publish",
        "$JS.API.DIRECT.GET.KV_leases.$KV.leases.scheduler_leader",
        lambda: js.get_msg("KV_leases", subject="$KV.leases.scheduler_leader", direct=True),
    )
    await fetcher.denied(
        "publish",
        "$JS.API.STREAM.MSG.GET.KV_leases",
        lambda: js.get_msg("KV_leases", subject="$KV.leases.scheduler_leader"),
    )
    await fetcher.denied(
        "publish",
        "$KV.leases.scheduler_leader",
        lambda: fetcher.nc.publish("$KV.leases.scheduler_leader", b"the-fetcher"),
    )
    assert (await leases.get("scheduler_leader")).value == b"the-scheduler"
    await fetcher.denied(
        "publish",
        "$KV.control.pause_all",
        lambda: fetcher.nc.publish("$KV.control.pause_all", b"on"),
    )
    await fetcher.denied("subscription", "$KV.>", lambda: fetcher.nc.subscribe("$KV.>"))
    # The writer's consumer and any new consumer are out of reach.
    await admin.nc.jetstream().publish(PAGE_SUBJECT, b"page", stream=PAGES_STREAM)
    await fetcher.denied(
        "publish",
        f"$JS.API.CONSUMER.MSG.NEXT.{PAGES_STREAM}.{WRITER_DURABLE}",
        lambda: fetcher.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{PAGES_STREAM}.{WRITER_DURABLE}", b"1", reply="_INBOX.x"
        ),
    )
    await fetcher.denied(
        "publish",
        f"$JS.API.CONSUMER.CREATE.{PAGES_STREAM}",
        lambda: js.add_consumer(PAGES_STREAM),
    )
    assert await stream_messages(admin, PAGES_STREAM) == 1
    await fetcher.denied(
        "publish", "$JS.API.STREAM.DELETE.SYNC_PAGES", lambda: js.delete_stream(PAGES_STREAM)
    )


async def test_the_writer_consumes_pages_and_announces_completions_but_cannot_schedule(
    connect: Callable[[str], Awaitable[Session]], admin: Session, token_service: Session
) -> None:
    writer = await connect("writer")
    js = writer.nc.jetstream(timeout=5)
    await admin.nc.jetstream().publish(PAGE_SUBJECT, b"page", stream=PAGES_STREAM)
    subscription = await writer.allowed(
        lambda: js.pull_subscribe(PAGE_SUBJECT, durable=WRITER_DURABLE, stream=PAGES_STREAM)
    )
    [page] = await writer.allowed(lambda: subscription.fetch(1, timeout=5))
    await writer.allowed(page.ack_sync)
    assert await stream_messages(admin, PAGES_STREAM) == 0
    await writer.allowed(lambda: writer.nc.publish("sync.run.completed.orders", b"{}"))

    await writer.denied(
        "publish", WINDOW_SUBJECT, lambda: writer.nc.publish(WINDOW_SUBJECT, b"window")
    )
    await writer.denied(
        "publish",
        WINDOW_SUBJECT,
        lambda: writer.nc.jetstream(timeout=API_TIMEOUT).publish(WINDOW_SUBJECT, b"window"),
    )
    assert await stream_messages(admin, WINDOWS_STREAM) == 0
    await writer.denied(
        "publish", "token.get", lambda: writer.nc.request("token.get", b"{}", timeout=1)
    )
    await writer.denied(
        "publish",
        f"$JS.API.CONSUMER.MSG.NEXT.{WINDOWS_STREAM}.{FETCHER_DURABLE}",
        lambda: writer.nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{WINDOWS_STREAM}.{FETCHER_DURABLE}", b"1"
        ),
    )
    await writer.denied(
        "publish",
        "$KV.fetch_checkpoints.run-1",
        lambda: writer.nc.publish("$KV.fetch_checkpoints.run-1", b"page 1"),
    )
    await writer.denied(
        "publish",
        "$KV.learned_limits.postorder.inquiry.limit",
        lambda: writer.nc.publish("$KV.learned_limits.postorder.inquiry.limit", b"1"),
    )
