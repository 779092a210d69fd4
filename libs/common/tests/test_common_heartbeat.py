"""Heartbeats on real NATS: sent while the app runs, not after it stopped."""

from __future__ import annotations

import asyncio

import pytest
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from common.heartbeat import attach_heartbeat
from common.messages import ServiceHeartbeat

pytestmark = pytest.mark.nats


async def test_a_running_service_announces_itself_until_it_stops(
    nats_url: str, nats_client: NatsClient
) -> None:
    received: asyncio.Queue[ServiceHeartbeat] = asyncio.Queue()

    async def collect(msg: object) -> None:
        await received.put(ServiceHeartbeat.model_validate_json(msg.data))  # type: ignore[attr-defined]

    subscription = await nats_client.subscribe("svc.heartbeat.>", cb=collect)
    broker = NatsBroker(nats_url)
    app = FastStream(broker)
    attach_heartbeat(app, broker, "probe", interval=0.1)
    await app.start()
    first = await asyncio.wait_for(received.get(), timeout=5)
    second = await asyncio.wait_for(received.get(), timeout=5)
    await app.stop()
    assert first.service == "probe"
    assert first.instance == second.instance
    assert second.sent_at > first.sent_at
    await asyncio.sleep(0.3)
    while not received.empty():  # one may have been in flight at stop
        received.get_nowait()
    await asyncio.sleep(0.3)
    assert received.empty()
    await subscription.unsubscribe()
