"""The push ingress in eBay's time: against the sandbox (``ADMIN_API_CLOCK_URL``), whose clock
tests freeze and move by jumps, a Trading notification is judged by the sandbox's time, read
again before a stamp is refused as off (contracts notifications §7.4)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from admin_api.context import AdminContext
from admin_api.routes.push import TRADING_PATH
from admin_api.settings import PushSettings
from common.push import trading_signature
from common.settings import EbayApiSettings
from common.streams import NOTIFICATIONS_STREAM
from ebay_sandbox.settings import SandboxConfig
from testkit.admin import admin_settings, serve_admin
from testkit.sandbox import serve_sandbox

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

TRADING = json.loads(
    (Path(__file__).parent / "contracts" / "trading_notification_signature_vector.json").read_text()
)
# Far from the machine's time: a stamp of the sandbox's is hours or days off the machine's.
START = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@dataclass
class Ingress:
    admin: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    context: AdminContext


@pytest.fixture
async def ingress(migrated_database_url: str, nats_url: str) -> AsyncIterator[Ingress]:
    config = SandboxConfig(sellers=0, clock_start=START, clock_frozen=True)
    async with serve_sandbox(config) as url:
        settings = admin_settings(
            nats_url,
            migrated_database_url,
            ebay=EbayApiSettings(
                api_base_url=url,
                client_id=TRADING["appId"],
                client_secret=SecretStr(TRADING["certId"]),
            ),
            push=PushSettings(
                enabled=True, trading_dev_id=TRADING["devId"], subscriptions_seconds=0
            ),
            clock_url=f"{url}/sandbox/clock",
        )
        async with (
            serve_admin(settings) as (app, admin),
            httpx.AsyncClient(base_url=url) as sandbox,
        ):
            context: AdminContext = app.state.context
            await context.js.purge_stream(NOTIFICATIONS_STREAM)
            yield Ingress(admin, sandbox, context)


def stamped(at: datetime) -> bytes:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    signature = trading_signature(stamp, TRADING["devId"], TRADING["appId"], TRADING["certId"])
    envelope: str = TRADING["soap_envelope"]
    return (
        envelope.replace(TRADING["timestamp"], stamp)
        .replace(TRADING["expected_signature"], signature)
        .encode()
    )


async def post(ingress: Ingress, at: datetime) -> int:
    response = await ingress.admin.post(
        TRADING_PATH, content=stamped(at), headers=TRADING["http_headers"]
    )
    return response.status_code


async def test_trading_stamps_are_judged_in_the_followed_clocks_time_across_its_jumps(
    ingress: Ingress,
) -> None:
    assert await post(ingress, START) == 200
    # The machine's time is not eBay's here: its stamp is days off.
    assert await post(ingress, datetime.now(UTC)) == 412
    # The sandbox's clock jumps an hour; the next notification carries the new time and is
    # judged by it at once (the ingress re-reads the clock before refusing).
    resp = await ingress.sandbox.post("/sandbox/clock/advance", json={"seconds": 3600})
    assert resp.status_code == 200, resp.text
    later = START + timedelta(hours=1)
    assert await post(ingress, later) == 200
    assert await post(ingress, START) == 412, "an hour behind eBay's time now"
    info = await ingress.context.js.stream_info(NOTIFICATIONS_STREAM)
    assert info.state.messages == 2
