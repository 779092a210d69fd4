"""The fetcher keeps the signing key in memory and asks again only near its expiry: pure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from common.ebay.signing import SigningKey
from fetcher.signing import RENEW_BEFORE, SigningKeyCache

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class TokenService:
    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self.asked = 0

    async def signing_key(self) -> SigningKey:
        self.asked += 1
        await asyncio.sleep(0)  # let concurrent callers pile up behind the first
        return SigningKey(
            f"key-{self.asked}", "ED25519", "jwe", SecretStr("private"), NOW + self.lifetime
        )


async def test_the_key_is_asked_for_once_however_many_windows_need_it() -> None:
    service = TokenService(timedelta(days=1000))
    cache = SigningKeyCache(service.signing_key, Clock())
    keys = await asyncio.gather(*(cache.get() for _ in range(5)))
    assert {k.signing_key_id for k in keys} == {"key-1"}
    assert (await cache.get()).signing_key_id == "key-1"
    assert service.asked == 1


async def test_a_key_near_its_expiry_is_asked_for_again() -> None:
    clock = Clock()
    service = TokenService(timedelta(days=10))
    cache = SigningKeyCache(service.signing_key, clock)
    assert (await cache.get()).signing_key_id == "key-1"
    clock.now = NOW + timedelta(days=10) - RENEW_BEFORE - timedelta(seconds=1)
    assert (await cache.get()).signing_key_id == "key-1"
    clock.now = NOW + timedelta(days=10) - RENEW_BEFORE
    assert (await cache.get()).signing_key_id == "key-2"
    assert service.asked == 2
