"""The NATS users of deploy/nats/accounts.conf: each service may do its job and nothing else.

A real nats-server runs deploy/nats/single.conf (which includes accounts.conf) on loopback.
Every allowed operation must succeed with no violation reported; every denied one must be
refused by the server — the permissions violation arrives through nats-py's error callback —
and must have no effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import nats
import pytest
import pytest_asyncio
from embedded_servers import EmbeddedNats, find_free_port
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NotFoundError

from common.control import CancelRequests
from common.settings import NatsSettings
from common.streams import (
    ADVISORIES_STREAM,
    ADVISORY_SUBJECTS,
    BUCKETS,
    DLQ_STREAM,
    FAILURES_DURABLE,
    FETCHER_DURABLE,
    MOVER_DURABLE,
    PAGES_STREAM,
    WINDOWS_STREAM,
    WRITER_DURABLE,
    ensure_topology,
)

pytestmark = [pytest.mark.nats]

ROOT = Path(__file__).resolve().parents[2]
NATS_DIR = ROOT / "deploy" / "nats"
USERS = ("admin", "scheduler", "token-service", "fetcher", "writer", "admin-api", "sys")
PASSWORDS = {user: secrets.token_hex(12) for user in USERS}
WINDOW_SUBJECT = "sync.window.orders.7"
PAGE_SUBJECT = "sync.page.orders.7"
# A denied JetStream API call is never answered: keep its wait short.
API_TIMEOUT = 0.5


def password_variable(user: str) -> str:
    return "NATS_PASSWORD_" + user.upper().replace("-", "_")


def load_ops() -> ModuleType:
    """deploy/ops.py, the deploy step that declares the topology (not an installed module)."""
    spec = importlib.util.spec_from_file_location("ebaysync_deploy_ops", ROOT / "deploy" / "ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Session:
    """One connection as one NATS user, collecting the errors the server reports to it.

    The server may report a violation after the PONG of a flush (subscription violations do),
    so a denial is awaited until it arrives, and every error that no denial claimed fails the
    test at teardown: an "allowed" operation that was refused late is caught there.
    """

    user: str
    nc: NatsClient
    errors: list[str] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)

    def unclaimed(self) -> list[str]:
        return [e for i, e in enumerate(self.errors) if i not in self.claimed]

    async def allowed(self, action: Callable[[], Awaitable[Any]]) -> Any:
        result = await action()
        await self.nc.flush(timeout=5)
        assert self.unclaimed() == [], f"{self.user}: {self.unclaimed()}"
        return result

    async def denied(
        self,
        kind: str,
        subject: str,
        action: Callable[[], Awaitable[Any]],
        *,
        since: int | None = None,
    ) -> None:
        """``kind`` is "publish" or "subscription": the server must refuse ``subject``.

        ``since``: the refusal may already have arrived after this many errors.
        """
        # nats-py hands the server's message over in lower case.
        expected = f'permissions violation for {kind} to "{subject}"'.lower()
        before = len(self.errors) if since is None else since
        with contextlib.suppress(NatsTimeoutError, asyncio.TimeoutError):
            await action()
        await self.nc.flush(timeout=5)
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            matches = [
                i
                for i in range(before, len(self.errors))
                if i not in self.claimed and expected in self.errors[i].lower()
            ]
            if matches:
                self.claimed.update(matches)
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{self.user} was not refused {kind} to {subject}: "
                    f"{self.errors[before:] or 'no error'}"
                )
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(
        tmp_path_factory.mktemp("nats-secured"),
        # single.conf's monitoring port is 8222: take a free one (flags win over the file).
        monitor_port=find_free_port(),
        config_file=NATS_DIR / "single.conf",
        env={password_variable(user): password for user, password in PASSWORDS.items()},
    )
    with server:
        yield server


@pytest_asyncio.fixture
async def connect(
    secured_nats: EmbeddedNats,
) -> AsyncIterator[Callable[[str], Awaitable[Session]]]:
    sessions: list[Session] = []

    async def open_session(user: str) -> Session:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        url = f"nats://{user}:{PASSWORDS[user]}@{secured_nats.host}:{secured_nats.port}"
        nc = await nats.connect(
            url,
            # The services' own rule: replies come to "_INBOX_<user>".
            inbox_prefix=NatsSettings(url=url).inbox,
            name=f"test-{user}",
            error_cb=on_error,
            allow_reconnect=False,
        )
        session = Session(user, nc, errors)
        sessions.append(session)
        return session

    yield open_session
    await asyncio.sleep(0.3)  # late violations
    try:
        for session in sessions:
            await session.nc.flush(timeout=5)
            assert session.unclaimed() == [], f"{session.user}: {session.unclaimed()}"
    finally:
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.nc.close()


@pytest_asyncio.fixture
async def admin(connect: Callable[[str], Awaitable[Session]]) -> Session:
    """The deploy user, on a freshly declared topology (as deploy/ops.py declares it)."""
    session = await connect("admin")
    js = session.nc.jetstream()
    streams = [WINDOWS_STREAM, PAGES_STREAM, DLQ_STREAM, ADVISORIES_STREAM]
    for stream in [*streams, *(f"KV_{b}" for b in BUCKET_NAMES)]:
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)
    await load_ops().apply_topology(js, 1)
    return session


BUCKET_NAMES = tuple(bucket.bucket for bucket in BUCKETS.all())


@pytest_asyncio.fixture
async def token_service(
    connect: Callable[[str], Awaitable[Session]], admin: Session
) -> AsyncIterator[Session]:
    """A stand-in token service, connected as its user, answering token.get once per request."""
    session = await connect("token-service")

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"access_token": "from-the-token-service"}')

    subscription = await session.allowed(
        lambda: session.nc.subscribe("token.get", queue="token-service", cb=answer)
    )
    yield session
    await subscription.unsubscribe()


async def stream_messages(admin: Session, stream: str) -> int:
    info = await admin.nc.jetstream().stream_info(stream)
    return int(info.state.messages)


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
    reply = await fetcher.allowed(lambda: fetcher.nc.request("token.get", b"{}", timeout=5))
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
    reply = await other.allowed(lambda: other.nc.request("token.get", b"{}", timeout=5))
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
    reply = await requester.allowed(lambda: requester.nc.request("token.get", b"{}", timeout=5))
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


def subscriber(session: Session, subject: str) -> Callable[[], Awaitable[Any]]:
    return lambda: session.nc.subscribe(subject)


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
    reply = await fetcher.allowed(lambda: fetcher.nc.request("token.get", b"{}", timeout=5))
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
    reply = await fetcher.allowed(lambda: fetcher.nc.request("token.signing_key", b"{}", timeout=5))
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
