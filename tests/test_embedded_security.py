"""`ebaysync up` lets in only whom it generated credentials for (issue 16, findings 1 and 3):
NATS here; PostgreSQL, secrets.json and the whole system: test_embedded_security_postgres.

The servers are the real embedded nats-server and PostgreSQL, configured exactly as `ebaysync up`
configures them (ebaysync.runtime.embedded_nats / embedded_postgres): NATS with the users and
permissions of deploy/nats/accounts.conf, PostgreSQL with scram-sha-256 and a service role that
is no superuser.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError

from ebaysync.credentials import nats_user_url
from testkit import embedded_up
from testkit.embedded_up import Embedded, nats_connect
from testkit.waiting import eventually

embedded = embedded_up.embedded  # the servers as `ebaysync up` runs them (testkit.embedded_up)


# --- NATS ------------------------------------------------------------------------------------


@dataclass
class Session:
    """One connection as one user, collecting the violations the server reports to it.

    A violation may arrive after the flush that follows its operation, so every error that no
    denial claimed fails the test when the session ends: an "allowed" operation refused late is
    caught there.
    """

    user: str
    nc: NatsClient
    errors: list[str] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)

    def unclaimed(self) -> list[str]:
        return [e for i, e in enumerate(self.errors) if i not in self.claimed]

    async def denied(self, kind: str, subject: str, action: Callable[[], Awaitable[Any]]) -> None:
        """The server must refuse ``kind`` ("publish" or "subscription") to ``subject``."""
        expected = f'permissions violation for {kind} to "{subject}"'.lower()
        before = len(self.errors)
        with contextlib.suppress(NatsTimeoutError, asyncio.TimeoutError):
            await action()
        await self.nc.flush(timeout=5)

        async def reported() -> bool:
            found = {i for i in range(before, len(self.errors)) if expected in self.errors[i]}
            self.claimed |= found
            return bool(found)

        await eventually(reported, within=10, what=f"{self.user}: {expected}", interval=0.05)

    async def allowed(self, action: Callable[[], Awaitable[Any]]) -> Any:
        result = await action()
        await self.nc.flush(timeout=5)
        assert self.unclaimed() == [], f"{self.user}: {self.unclaimed()}"
        return result


@contextlib.asynccontextmanager
async def session(embedded: Embedded, user: str) -> AsyncIterator[Session]:
    errors: list[str] = []
    url = nats_user_url(embedded.nats.url, user, embedded.local.nats_passwords[user])
    nc = await nats_connect(url, errors)
    connected = Session(user, nc, errors)
    try:
        yield connected
        await nc.flush(timeout=5)
        assert connected.unclaimed() == [], f"{user}: {connected.unclaimed()}"
    finally:
        await nc.close()


@pytest.mark.nats
async def test_nats_refuses_anonymous_unknown_and_wrong_password_connects(
    embedded: Embedded,
) -> None:
    url = embedded.nats.url
    for attempt in (
        url,
        nats_user_url(url, "fetcher", "not-its-password"),
        nats_user_url(url, "nobody", embedded.local.nats_passwords["fetcher"]),
    ):
        with pytest.raises(NatsError, match="Authorization Violation"):
            await nats_connect(attempt)


def publish(client: Session, subject: str) -> Callable[[], Awaitable[Any]]:
    return lambda: client.nc.publish(subject, b"{}")


def request(client: Session, subject: str, timeout: float) -> Callable[[], Awaitable[Msg]]:
    return lambda: client.nc.request(subject, b"{}", timeout=timeout)


def subscribe(client: Session, subject: str) -> Callable[[], Awaitable[Any]]:
    return lambda: client.nc.subscribe(subject)


@pytest.mark.nats
async def test_only_the_token_service_answers_and_only_its_clients_ask_for_tokens(
    embedded: Embedded,
) -> None:
    async def answer(msg: Msg) -> None:
        await msg.respond(b"token for " + msg.subject.encode())

    async with (
        session(embedded, "token-service") as tokens,
        session(embedded, "fetcher") as fetcher,
        session(embedded, "admin-api") as admin_api,
        session(embedded, "writer") as writer,
        session(embedded, "scheduler") as scheduler,
    ):
        for subject in ("token.get", "token.connect", "token.signing_key"):
            await tokens.allowed(functools.partial(tokens.nc.subscribe, subject, cb=answer))

        # Their jobs: the fetcher gets tokens and the signing key, the admin API tokens.
        for client, subject in (
            (fetcher, "token.get"),
            (fetcher, "token.signing_key"),
            (admin_api, "token.get"),
            (admin_api, "token.connect"),
        ):
            reply = await client.allowed(request(client, subject, timeout=10))
            assert reply.data == f"token for {subject}".encode()

        # Nobody else asks, and the admin API never for the app's private signing key.
        for client, subject in (
            (writer, "token.get"),
            (scheduler, "token.get"),
            (scheduler, "token.signing_key"),
            (admin_api, "token.signing_key"),
        ):
            await client.denied("publish", subject, request(client, subject, timeout=0.5))

        # Nobody but the token service hears the requests, nor anyone another user's replies.
        for client, subject in (
            (fetcher, "token.get"),
            (admin_api, "token.signing_key"),
            (writer, "_INBOX_fetcher.>"),
            (fetcher, ">"),
        ):
            await client.denied("subscription", subject, subscribe(client, subject))
        # The token service publishes nothing but its answers and heartbeats.
        await tokens.denied("publish", "sync.page.orders.7", publish(tokens, "sync.page.orders.7"))


@pytest.mark.nats
async def test_windows_and_pages_come_from_their_own_services(embedded: Embedded) -> None:
    async with (
        session(embedded, "scheduler") as scheduler,
        session(embedded, "fetcher") as fetcher,
        session(embedded, "writer") as writer,
    ):
        await scheduler.allowed(publish(scheduler, "sync.window.orders.7"))
        await fetcher.allowed(publish(fetcher, "sync.page.orders.7"))
        await writer.allowed(publish(writer, "sync.run.completed.orders"))
        for client, subject in (
            (writer, "sync.window.orders.7"),
            (writer, "sync.page.orders.7"),
            (fetcher, "sync.window.orders.7"),
            (scheduler, "sync.page.orders.7"),
            (scheduler, "$KV.fetch_checkpoints.x"),
        ):
            await client.denied("publish", subject, publish(client, subject))
