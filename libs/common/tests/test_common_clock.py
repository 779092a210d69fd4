"""A clock that follows a remote one (the sandbox's), over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from common.clock import FollowingClock, utc_now
from ebay_sandbox.settings import SandboxConfig
from testkit.sandbox import serve_sandbox

START = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


async def test_it_follows_a_frozen_remote_clock_and_its_jumps() -> None:
    config = SandboxConfig(sellers=0, clock_start=START, clock_frozen=True)
    async with serve_sandbox(config) as url:
        clock = FollowingClock(f"{url}/sandbox/clock")
        try:
            assert abs(clock.now() - utc_now()) < timedelta(seconds=5)
            await clock.sync()
            assert abs(clock.now() - START) < timedelta(seconds=5)
            async with httpx.AsyncClient() as http:
                await http.post(f"{url}/sandbox/clock/advance", json={"seconds": 86_400})
            await clock.sync()
            assert abs(clock.now() - (START + timedelta(days=1))) < timedelta(seconds=5)
        finally:
            await clock.aclose()


async def test_an_unreachable_clock_keeps_the_last_offset() -> None:
    clock = FollowingClock("http://127.0.0.1:9/sandbox/clock", timeout=0.5)
    try:
        await clock.sync()
        assert abs(clock.now() - utc_now()) < timedelta(seconds=5)
    finally:
        await clock.aclose()


async def test_fresh_rereads_only_a_clock_read_too_long_ago() -> None:
    config = SandboxConfig(sellers=0, clock_start=START, clock_frozen=True)
    async with serve_sandbox(config) as url, httpx.AsyncClient() as http:
        clock = FollowingClock(f"{url}/sandbox/clock")
        try:
            assert abs(await clock.fresh(3600) - START) < timedelta(seconds=5), "never read"
            await http.post(f"{url}/sandbox/clock/advance", json={"seconds": 86_400})
            assert abs(await clock.fresh(3600) - START) < timedelta(seconds=5), "read just now"
            jumped = await clock.fresh(0)
            assert abs(jumped - (START + timedelta(days=1))) < timedelta(seconds=5)
        finally:
            await clock.aclose()
