"""When the planner ticks: every tick interval, or sooner when a completed window wakes it, with
the completions of the gathering time in the same tick (scheduler.handlers.until_next_tick);
and what wakes it: a completion on the bus (scheduler.handlers.listen_for_completions)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client as NatsClient

from common.families import Family
from common.messages import WindowCompleted, encoded
from scheduler.handlers import listen_for_completions, until_next_tick


async def test_without_a_completion_the_tick_comes_at_its_interval_and_gathers_nothing() -> None:
    wake = asyncio.Event()
    async with asyncio.timeout(5):  # a gathering time of a minute would not end in time
        await until_next_tick(wake, tick_seconds=0.05, gather_seconds=60)
    assert not wake.is_set()


async def test_a_completion_brings_the_tick_and_later_ones_join_it() -> None:
    wake = asyncio.Event()
    seen: list[str] = []

    async def completions() -> None:
        wake.set()
        seen.append("first")
        await asyncio.sleep(0.05)
        wake.set()  # while the planner gathers
        seen.append("second")

    async with asyncio.timeout(5), asyncio.TaskGroup() as group:  # not the 60-s interval
        group.create_task(completions())
        await until_next_tick(wake, tick_seconds=60, gather_seconds=0.5)
        assert seen == ["first", "second"]
        assert not wake.is_set(), "the second completion is planned by this tick"


@pytest.mark.nats
async def test_a_completed_window_on_the_bus_wakes_the_planner_until_it_stops_listening(
    nats_client: NatsClient, nats_url: str
) -> None:
    wake = asyncio.Event()
    listening = await listen_for_completions(nats_client, wake)
    event = WindowCompleted(
        run_id=uuid.uuid4(),
        account_id=7,
        family=Family.ORDERS,
        cursor=None,
        completed_at=datetime.now(UTC),
    )
    # Another connection, as the writer's: the subscription is in place on the server.
    other = await nats.connect(nats_url)
    try:
        await other.publish(event.subject, encoded(event))
        await other.flush()
        async with asyncio.timeout(5):
            await wake.wait()
        await listening.unsubscribe()
        wake.clear()
        await other.publish(event.subject, encoded(event))
        await other.flush()
        await nats_client.flush()
        await asyncio.sleep(0.2)
        assert not wake.is_set(), "no listener, no wake-up"
    finally:
        await other.close()
