"""When the planner ticks: every tick interval, or sooner when a completed window wakes it, with
the completions of the gathering time in the same tick (scheduler.handlers.until_next_tick)."""

from __future__ import annotations

import asyncio

from scheduler.handlers import until_next_tick


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
