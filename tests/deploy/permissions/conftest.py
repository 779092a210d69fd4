"""Fixtures of the NATS permission tests: a real nats-server on deploy/nats/single.conf (which
includes accounts.conf), sessions as its users, the topology as deploy/ops.py declares it, and
a stand-in token service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import nats
import pytest
import pytest_asyncio
from embedded_servers import EmbeddedNats, find_free_port
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from common.settings import NatsSettings
from common.streams import (
    ADVISORIES_STREAM,
    BUCKETS,
    DLQ_STREAM,
    PAGES_STREAM,
    WINDOWS_STREAM,
)
from testkit.deploy_config import NATS_DIR, load_ops
from testkit.nats_permissions import (
    PASSWORDS,
    Session,
)


def password_variable(user: str) -> str:
    return "NATS_PASSWORD_" + user.upper().replace("-", "_")


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
