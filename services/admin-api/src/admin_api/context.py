"""Everything a request may need beyond its session, built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.live import ChangeFeed, Heartbeats, StreamSlots
from admin_api.notifications import NotificationKeys
from admin_api.settings import AdminApiSettings
from common.clock import FollowingClock, utc_now

# A followed eBay clock is re-read at most this often (the ingress has no tick of its own).
EBAY_CLOCK_REFRESH_SECONDS = 1.0


@dataclass
class AdminContext:
    settings: AdminApiSettings
    sessions: async_sessionmaker[AsyncSession]
    broker: NatsBroker
    # For eBay (Identity getUser, notification keys); instrumented, never logs tokens.
    http: httpx.AsyncClient
    heartbeats: Heartbeats
    changes: ChangeFeed
    notification_keys: NotificationKeys
    tracer: Tracer
    streams: StreamSlots
    # eBay's time when it is not the machine's (ADMIN_API_CLOCK_URL: the sandbox's).
    ebay_clock: FollowingClock | None = None

    async def ebay_now(self, *, reread: bool = False) -> datetime:
        """The time eBay stamps notifications with, to judge their timestamps and ages: the
        machine's, or the followed clock's (re-read now when ``reread``: a frozen sandbox
        clock moves by jumps, so a stamp that looks off may be right after one)."""
        if self.ebay_clock is None:
            return utc_now()
        return await self.ebay_clock.fresh(0.0 if reread else EBAY_CLOCK_REFRESH_SECONDS)

    @property
    def js(self) -> JetStreamContext:
        js: JetStreamContext = self.broker.config.connection_state.stream
        return js
