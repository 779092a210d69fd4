"""Simulated clock and configuration from the environment."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ebay_sandbox.app import create_app
from ebay_sandbox.clock import SandboxClock, iso_ms, to_ms
from ebay_sandbox.settings import SandboxConfig

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def test_clock_endpoint_and_advance(client: httpx.AsyncClient) -> None:
    assert (await client.get("/sandbox/clock")).json() == {"now": "2025-06-01T12:00:00.000Z"}
    resp = await client.post("/sandbox/clock/advance", json={"seconds": 90.5})
    assert resp.json() == {"now": "2025-06-01T12:01:30.500Z"}
    assert (await client.get("/sandbox/clock")).json()["now"] == "2025-06-01T12:01:30.500Z"


async def test_clock_only_moves_forward(client: httpx.AsyncClient) -> None:
    resp = await client.post("/sandbox/clock/advance", json={"seconds": -1})
    assert resp.status_code == 422
    with pytest.raises(ValueError, match="forward"):
        SandboxClock().advance(-1)


async def test_running_clock_follows_real_time() -> None:
    clock = SandboxClock(offset_seconds=3600)
    real = datetime.now(UTC)
    assert abs(clock.now() - (real + timedelta(hours=1))) < timedelta(seconds=5)
    first = clock.now_ms()
    await asyncio.sleep(0.02)
    assert clock.now_ms() > first
    pinned = SandboxClock(start=START)
    assert abs(pinned.now() - START) < timedelta(seconds=5)


def test_iso_format() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    assert iso_ms(to_ms(moment)) == "2024-02-29T23:59:59.123Z"


async def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_SEED", "42")
    monkeypatch.setenv("SANDBOX_SELLERS", "2")
    monkeypatch.setenv("SANDBOX_CLIENT_SECRET", "from-env")
    monkeypatch.setenv("SANDBOX_CLOCK_OFFSET_SECONDS", "-86400")
    monkeypatch.setenv("SANDBOX_PROFILE", "huge,tiny")
    monkeypatch.setenv("SANDBOX_ORDERS_PER_DAY", "7")
    config = SandboxConfig()
    assert (config.seed, config.sellers) == (42, 2)
    assert config.client_secret.get_secret_value() == "from-env"
    assert config.orders_per_day == 7
    huge, tiny = config.seller_profile(0), config.seller_profile(1)
    assert (huge.name, huge.listings, huge.orders_per_day) == ("huge", 25_000, 7)
    assert (tiny.name, tiny.listings, tiny.history_days) == ("tiny", 8, 30)
    assert "from-env" not in repr(config)
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        sellers: list[dict[str, Any]] = (await c.get("/sandbox/sellers")).json()
        now = datetime.fromisoformat((await c.get("/sandbox/clock")).json()["now"])
    assert [s["username"] for s in sellers] == ["sandbox_seller_1", "sandbox_seller_2"]
    assert abs(now - (datetime.now(UTC) - timedelta(days=1))) < timedelta(seconds=10)
