"""The fetcher's test world: the sandbox over HTTP with one consenting seller, the real token
service on real JetStream holding that seller's tokens, and a ``WindowFetcher`` to build on it.

A test module takes the fixture by assignment (``env = fetcher_env.env``; see
:mod:`testkit.admin_fixtures` for why not by import)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.ebay.fulfillment import FulfillmentClient
from common.ebay.scopes import SCOPE_STRING
from common.families import Family
from common.messages import (
    ConnectAccount,
    ConnectAccountReply,
    PageBatch,
    SyncWindow,
    Trigger,
)
from common.metrics import MetricsSettings
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from common.streams import BUCKETS, PAGES_STREAM
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from fetcher.checkpoints import CheckpointStore
from fetcher.service import WindowFetcher
from fetcher.sources.orders import OrdersSource
from fetcher.tokens import TokenClient
from testkit.factories import create_account
from testkit.sandbox import serve_sandbox
from token_service.app import create_app as create_token_service
from token_service.crypto import generate_key
from token_service.settings import TokenServiceSettings

CLIENT_ID, CLIENT_SECRET, RU_NAME = "fetch-SBX-client", "fetch-secret", "fetch-RuName"
PAGE_SIZE = 10


@dataclass
class Env:
    broker: NatsBroker
    js: JetStreamContext
    http: httpx.AsyncClient
    sandbox_url: str
    account_id: int
    username: str
    requested_offsets: list[int]

    async def fetcher(
        self, publish: Any = None, max_page_bytes: int = 900_000, tokens: TokenClient | None = None
    ) -> WindowFetcher:
        kv = await self.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
        source = OrdersSource(FulfillmentClient(self.http, self.sandbox_url), PAGE_SIZE)
        return WindowFetcher(
            tokens or TokenClient(self.broker, timeout=10),
            {Family.ORDERS: source},
            CheckpointStore(kv),
            publish or self.publish,
            max_page_bytes=max_page_bytes,
            max_passes=3,
        )

    async def publish(self, page: PageBatch) -> None:
        await self.js.publish(
            page.subject,
            page.model_dump_json().encode(),
            stream=PAGES_STREAM,
            headers={"Nats-Msg-Id": page.message_id},
        )

    async def published(self, run_id: uuid.UUID) -> list[PageBatch]:
        subject = f"{PageBatch.SUBJECT_PREFIX}.orders.{self.account_id}"
        info = await self.js.stream_info(PAGES_STREAM)
        pages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg(PAGES_STREAM, seq)
            if msg.subject == subject:
                page = PageBatch.model_validate_json(msg.data or b"")
                if page.run_id == run_id:
                    pages.append(page)
        return pages

    async def ground_truth(self, window: SyncWindow) -> dict[str, dict[str, Any]]:
        assert window.window_from is not None
        response = await self.http.get(
            f"{self.sandbox_url}/sandbox/sellers/{self.username}/orders",
            params={
                "modified_from": window.window_from.isoformat(),
                "modified_to": window.window_to.isoformat(),
            },
        )
        return {o["orderId"]: o for o in response.json()["orders"]}

    def window(self, days: float = 30) -> SyncWindow:
        now = datetime.now(UTC) - timedelta(minutes=5)
        return SyncWindow(
            run_id=uuid.uuid4(),
            account_id=self.account_id,
            family=Family.ORDERS,
            window_from=now - timedelta(days=days),
            window_to=now,
            trigger=Trigger.MANUAL,
            issued_at=now,
        )


@pytest.fixture
async def env(
    nats_url: str,
    migrated_database_url: str,
    broker: NatsBroker,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Env]:
    config = SandboxConfig(
        sellers=1,
        orders_per_day=4,
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
    )
    async with serve_sandbox(config) as sandbox_url:
        settings = TokenServiceSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(migrated_database_url)),
            ebay=EbayApiSettings(
                api_base_url=sandbox_url,
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
                ru_name=RU_NAME,
            ),
            metrics=MetricsSettings(port=0),
            keys={"k1": SecretStr(generate_key())},
            active_key_id="k1",
        )
        token_app: FastStream = create_token_service(settings)
        await token_app.start()
        offsets: list[int] = []

        async def record(request: httpx.Request) -> None:
            if request.url.path.endswith("/order"):
                offsets.append(int(request.url.params["offset"]))

        try:
            async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
                username = (await http.get(f"{sandbox_url}/sandbox/sellers")).json()[0]["username"]
                async with sessions.begin() as session:
                    account_id = (await create_account(session, username=username)).id
                async with httpx.AsyncClient(base_url=sandbox_url) as consent:
                    code = await approve_consent(
                        consent,
                        username=username,
                        client_id=CLIENT_ID,
                        ru_name=RU_NAME,
                        scopes=SCOPE_STRING,
                    )
                reply = await broker.request(
                    ConnectAccount(account_id=account_id, authorization_code=SecretStr(code)),
                    ConnectAccount.SUBJECT,
                    timeout=10,
                )
                assert ConnectAccountReply.model_validate_json(reply.body).connected
                yield Env(broker, topology, http, sandbox_url, account_id, username, offsets)
        finally:
            await token_app.stop()
