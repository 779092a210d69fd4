"""Everything a request may need beyond its session, built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.live import ChangeFeed, Heartbeats, StreamSlots
from admin_api.notifications import NotificationKeys
from admin_api.settings import AdminApiSettings


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

    @property
    def js(self) -> JetStreamContext:
        js: JetStreamContext = self.broker.config.connection_state.stream
        return js
