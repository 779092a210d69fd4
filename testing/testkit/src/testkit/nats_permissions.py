"""Connections as the deploy's NATS users (deploy/nats/accounts.conf) for the permission tests
(tests/deploy/permissions): each user's password, and a session that asserts what the server
allows and awaits what it refuses."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

USERS = ("admin", "scheduler", "token-service", "fetcher", "writer", "admin-api", "sys")
PASSWORDS = {user: secrets.token_hex(12) for user in USERS}
WINDOW_SUBJECT = "sync.window.orders.7"
PAGE_SUBJECT = "sync.page.orders.7"
# A denied JetStream API call is never answered: keep its wait short.
API_TIMEOUT = 0.5


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

    async def request(self, subject: str, payload: bytes = b"{}") -> Msg:
        """An allowed request, answered by a responder that has just subscribed.

        Even after the responder's flush, a loaded server may still answer "no responders" for
        an instant (nats-io/nats-server#2876), so that answer is asked again, for 5 s at most.
        """
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            try:
                reply: Msg = await self.allowed(
                    lambda: self.nc.request(subject, payload, timeout=5)
                )
                return reply
            except NoRespondersError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)

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


async def stream_messages(admin: Session, stream: str) -> int:
    info = await admin.nc.jetstream().stream_info(stream)
    return int(info.state.messages)


def subscriber(session: Session, subject: str) -> Callable[[], Awaitable[Any]]:
    return lambda: session.nc.subscribe(subject)
