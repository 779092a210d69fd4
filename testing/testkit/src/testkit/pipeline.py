"""One family's whole path in-process: sandbox → real token service → fetcher source → writer.

Pages go from the fetcher straight into the writer (no JetStream in between): the bus has its
own tests; this harness proves that a family's client, source, mapping and table together
mirror exactly what eBay (the sandbox) holds.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import pytest
from faststream.nats import NatsBroker
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.control import CancelRequests
from common.db.sync_tables import SyncState
from common.ebay.learned import KvLimits
from common.ebay.marketplaces import site_id_for
from common.ebay.scopes import SCOPE_STRING
from common.families import Family
from common.messages import (
    ConnectAccount,
    ConnectAccountReply,
    PageBatch,
    SyncWindow,
    Trigger,
)
from common.streams import BUCKETS
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from fetcher.checkpoints import CheckpointStore
from fetcher.service import PublishPage, WindowFetcher
from fetcher.settings import FetcherSettings
from fetcher.sources import Source, SourceContext, build_sources
from fetcher.sources.details import KvDigests
from fetcher.tokens import TokenClient
from testkit.factories import create_account
from testkit.sandbox import serve_sandbox
from testkit.token_service import running_token_service, sandbox_ebay
from writer.service import PageWriter

CLIENT_ID, CLIENT_SECRET, RU_NAME = "pipe-SBX-client", "pipe-secret", "pipe-RuName"


@dataclass(frozen=True)
class Seller:
    account_id: int
    username: str
    marketplace_id: str


@dataclass
class Pipeline:
    broker: NatsBroker
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    sandbox_url: str
    sellers: list[Seller]
    fetcher_settings: FetcherSettings
    tokens: TokenClient
    # Every page the fetcher published, in order, by run.
    pages: dict[uuid.UUID, list[PageBatch]] = field(default_factory=dict)

    async def sources(self, http: httpx.AsyncClient | None = None) -> Mapping[Family, Source]:
        """The fetcher's sources, on ``http`` (default: the pipeline's), learning limits in
        the real ``learned_limits`` bucket and keeping detail digests where the fetcher does."""
        learned = KvLimits(
            await self.broker.key_value(BUCKETS.learned_limits.bucket, declare=False)
        )
        digests = KvDigests(await self.broker.key_value(BUCKETS.checkpoints.bucket, declare=False))
        return build_sources(
            SourceContext(http or self.http, self.fetcher_settings, self.tokens, learned, digests)
        )

    async def fetcher(
        self,
        sources: Mapping[Family, Source] | None = None,
        *,
        after_write: Callable[[PageBatch], Awaitable[None]] | None = None,
        publish: PublishPage | None = None,
    ) -> WindowFetcher:
        """A fetcher whose pages are written at once; it honours cancels in the real
        ``control`` bucket. ``after_write`` runs after each page is written."""
        kv = await self.broker.key_value(BUCKETS.checkpoints.bucket, declare=False)
        writer = PageWriter(self.sessions, lambda: datetime.now(UTC))

        async def write(page: PageBatch) -> None:
            self.pages.setdefault(page.run_id, []).append(page)
            await writer.write(page, None)
            if after_write is not None:
                await after_write(page)

        return WindowFetcher(
            self.tokens,
            sources if sources is not None else await self.sources(),
            CheckpointStore(kv),
            write if publish is None else publish,
            max_page_bytes=self.fetcher_settings.max_page_bytes,
            max_passes=self.fetcher_settings.max_passes,
            cancels=await self.cancels(),
        )

    async def cancels(self) -> CancelRequests:
        return CancelRequests(await self.broker.key_value(BUCKETS.control.bucket, declare=False))

    async def sync(
        self,
        seller: Seller,
        family: Family,
        window_from: datetime | None,
        window_to: datetime | None = None,
        *,
        trusting: uuid.UUID | Literal["committed"] | None = "committed",
        publish: PublishPage | None = None,
    ) -> SyncWindow:
        """Fetch and write one window (``window_from=None``: a snapshot) of one family.

        ``trusting``: the run whose marks the fetcher may trust (``SyncWindow.committed_run``);
        by default the pair's last committed run, as the scheduler sends it. ``publish``: where
        pages go instead of the writer (e.g. nowhere: a run whose pages never commit).
        """
        now = await self.sandbox_now()
        committed = (
            await self.committed_run(seller, family) if trusting == "committed" else trusting
        )
        window = SyncWindow(
            run_id=uuid.uuid4(),
            account_id=seller.account_id,
            family=family,
            window_from=window_from,
            window_to=window_to or now,
            trigger=Trigger.MANUAL,
            issued_at=now,
            committed_run=committed,
        )
        fetcher = await self.fetcher() if publish is None else await self.fetcher(publish=publish)
        await fetcher.fetch(window)
        return window

    async def committed_run(self, seller: Seller, family: Family) -> uuid.UUID | None:
        """The pair's last committed run (``sync_state.last_run_id``)."""
        async with self.sessions() as session:
            found: uuid.UUID | None = await session.scalar(
                select(SyncState.last_run_id).where(
                    SyncState.account_id == seller.account_id, SyncState.family == str(family)
                )
            )
            return found

    async def sandbox_now(self) -> datetime:
        response = await self.http.get(f"{self.sandbox_url}/sandbox/clock")
        return datetime.fromisoformat(response.json()["now"])

    async def advance_clock(self, seconds: float) -> None:
        response = await self.http.post(
            f"{self.sandbox_url}/sandbox/clock/advance", json={"seconds": seconds}
        )
        response.raise_for_status()

    async def truth(self, seller: Seller, path: str, **params: Any) -> httpx.Response:
        """The sandbox's ground truth of one family (``params``: ``date_from``, ``date_to``)."""
        response = await self.http.get(
            f"{self.sandbox_url}/sandbox/sellers/{seller.username}/{path}",
            params={k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()},
        )
        response.raise_for_status()
        return response

    async def fault(self, seller: Seller, kind: str, **options: Any) -> None:
        response = await self.http.post(
            f"{self.sandbox_url}/sandbox/faults",
            json={"username": seller.username, "kind": kind, **options},
        )
        response.raise_for_status()


@asynccontextmanager
async def family_pipeline(
    *,
    nats_url: str,
    database_url: str,
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    config: SandboxConfig,
    fetcher_settings: FetcherSettings | None = None,
) -> AsyncIterator[Pipeline]:
    """A sandbox with ``config``'s sellers, each connected as an account through the real
    token service. ``broker`` must be started on a declared topology (the ``broker`` fixture).
    """
    config = config.model_copy(
        update={
            "client_id": CLIENT_ID,
            "client_secret": SecretStr(CLIENT_SECRET),
            "ru_name": RU_NAME,
        }
    )
    async with serve_sandbox(config) as sandbox_url:
        ebay = sandbox_ebay(
            sandbox_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, ru_name=RU_NAME
        )
        async with (
            running_token_service(nats_url, database_url, ebay),
            httpx.AsyncClient(timeout=30) as http,
        ):
            sellers = [
                await connect_seller(broker, sessions, sandbox_url, seller)
                for seller in (await http.get(f"{sandbox_url}/sandbox/sellers")).json()
            ]
            settings = (fetcher_settings or FetcherSettings()).model_copy(update={"ebay": ebay})
            yield Pipeline(
                broker,
                sessions,
                http,
                sandbox_url,
                sellers,
                settings,
                TokenClient(broker, timeout=10),
            )


async def connect_seller(
    broker: NatsBroker,
    sessions: async_sessionmaker[AsyncSession],
    sandbox_url: str,
    seller: dict[str, Any],
) -> Seller:
    marketplace = seller["marketplaceId"]
    async with sessions.begin() as session:
        account = await create_account(
            session,
            username=seller["username"],
            ebay_user_id=seller["userId"],
            marketplace_id=marketplace,
            site_id=site_id_for(marketplace) or 0,
        )
    async with httpx.AsyncClient(base_url=sandbox_url) as consent:
        code = await approve_consent(
            consent,
            username=seller["username"],
            client_id=CLIENT_ID,
            ru_name=RU_NAME,
            scopes=SCOPE_STRING,
        )
    reply = await broker.request(
        ConnectAccount(account_id=account.id, authorization_code=SecretStr(code)),
        ConnectAccount.SUBJECT,
        timeout=10,
    )
    assert ConnectAccountReply.model_validate_json(reply.body).connected
    return Seller(account.id, seller["username"], marketplace)


def pipeline_fixture(config: SandboxConfig, fetcher_settings: FetcherSettings | None = None) -> Any:
    """A ``pipeline`` fixture: :func:`family_pipeline` on ``config``, on the session's servers.

    A test module takes it by assignment, ``pipeline = pipeline_fixture(SandboxConfig(...))``:
    pytest registers the module attribute under its name (see :mod:`testkit.admin_fixtures`).
    """

    @pytest.fixture
    async def pipeline(
        nats_url: str,
        migrated_database_url: str,
        broker: NatsBroker,
        sessions: async_sessionmaker[AsyncSession],
    ) -> AsyncIterator[Pipeline]:
        async with family_pipeline(
            nats_url=nats_url,
            database_url=migrated_database_url,
            broker=broker,
            sessions=sessions,
            config=config,
            fetcher_settings=fetcher_settings,
        ) as running:
            yield running

    return pipeline
