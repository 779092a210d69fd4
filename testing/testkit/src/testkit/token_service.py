"""The real token service in the test's process, against the sandbox: eBay settings that point
every eBay host at a served sandbox, and the service started on them and stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream import FastStream
from pydantic import SecretStr

from common.metrics import MetricsSettings
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from testkit.waiting import stop_within
from token_service.app import create_app as create_token_service
from token_service.crypto import generate_key
from token_service.settings import TokenServiceSettings


def sandbox_ebay(
    sandbox_url: str, *, client_id: str, client_secret: str, ru_name: str
) -> EbayApiSettings:
    """eBay's API, APIZ and auth hosts all at ``sandbox_url``, with the sandbox app's keys."""
    return EbayApiSettings(
        api_base_url=sandbox_url,
        apiz_base_url=sandbox_url,
        auth_base_url=sandbox_url,
        client_id=client_id,
        client_secret=SecretStr(client_secret),
        ru_name=ru_name,
    )


@asynccontextmanager
async def running_token_service(
    nats_url: str, database_url: str, ebay: EbayApiSettings
) -> AsyncIterator[None]:
    """The token service on ``nats_url`` and ``database_url`` with a fresh key, until the end."""
    token_app: FastStream = create_token_service(
        TokenServiceSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(database_url)),
            ebay=ebay,
            # Several services share the test's process: none may take the fixed metrics port.
            metrics=MetricsSettings(port=0),
            keys={"k1": SecretStr(generate_key())},
            active_key_id="k1",
        )
    )
    await token_app.start()
    try:
        yield
    finally:
        await stop_within(token_app.stop(), within=30, what="the token service")
