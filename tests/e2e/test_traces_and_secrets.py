"""One trace per window across services, and no secret in any log line, span or error.

Every service runs in this process (one in-memory exporter sees all spans; each service has its
own tracer provider, so its own service.name) against real
JetStream, PostgreSQL and the sandbox over HTTP. The seller's first access token is revoked at
eBay before the first window, so the 401 → forced-refresh path runs too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.db.migrate import upgrade_async
from common.db.sync import SyncRun
from common.ebay.scopes import SCOPE_STRING
from common.families import Family
from common.messages import ConnectAccount, ConnectAccountReply
from common.metrics import MetricsSettings
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from common.telemetry import ACCOUNT_ATTRIBUTE, RUN_ATTRIBUTE, TelemetrySettings
from ebay_sandbox.app import create_app as create_sandbox
from ebay_sandbox.consent import approve_consent
from ebay_sandbox.settings import SandboxConfig
from fetcher.app import create_app as create_fetcher
from fetcher.settings import FetcherSettings
from scheduler.app import create_app as create_scheduler
from scheduler.settings import SchedulerSettings
from testkit import servers
from testkit.factories import create_account
from testkit.sandbox import serve_asgi
from testkit.servers import DatabaseServer
from testkit.waiting import eventually
from token_service.app import create_app as create_token_service
from token_service.crypto import generate_key
from token_service.settings import TokenServiceSettings
from writer.app import create_app as create_writer
from writer.settings import WriterSettings

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

CLIENT_ID, CLIENT_SECRET, RU_NAME = "trace-SBX-client", "trace-secret", "trace-RuName"
TOKEN_KEY = generate_key()
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class TokenRecorder:
    """ASGI wrapper around the sandbox that keeps every token its OAuth endpoint hands out."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.issued: dict[str, str] = {}  # token -> access_token | refresh_token

    @property
    def tokens(self) -> set[str]:
        return set(self.issued)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("path") != "/identity/v1/oauth2/token":
            await self.app(scope, receive, send)
            return

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                body = json.loads(message["body"])
                self.issued |= {body[k]: k for k in ("access_token", "refresh_token") if k in body}
            await send(message)

        await self.app(scope, receive, record)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if record.exc_info:
            line += logging.Formatter().formatException(record.exc_info)
        self.lines.append(line)


@dataclass
class Pipeline:
    spans: InMemorySpanExporter
    sessions: async_sessionmaker[AsyncSession]
    sandbox: TokenRecorder
    sandbox_url: str
    logs: Records
    account_id: int


def provider(service: str, exporter: InMemorySpanExporter) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


@pytest.fixture
async def pipeline(
    nats_url: str, database_server: DatabaseServer, topology: JetStreamContext
) -> AsyncIterator[Pipeline]:
    database_url = database_server.create_database(servers.unique_database_name("traces"))
    await upgrade_async(database_url)
    engine = create_async_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    sandbox = TokenRecorder(
        create_sandbox(
            SandboxConfig(
                sellers=1,
                orders_per_day=8,
                history_days=30,
                clock_frozen=True,
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
                ru_name=RU_NAME,
            )
        )
    )
    exporter = InMemorySpanExporter()
    logs = Records()
    async with serve_asgi(sandbox) as sandbox_url:
        nats = NatsSettings(url=nats_url)
        database = PostgresSettings(url=SecretStr(database_url))
        ebay = EbayApiSettings(
            api_base_url=sandbox_url,
            apiz_base_url=sandbox_url,
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            ru_name=RU_NAME,
        )
        quiet = MetricsSettings(port=0)
        # Statement spans are off by default; this test shows them under each page.
        telemetry = TelemetrySettings(log_level="DEBUG", trace_sql=True)
        apps: list[FastStream] = [
            create_token_service(
                TokenServiceSettings(
                    nats=nats,
                    database=database,
                    ebay=ebay,
                    metrics=quiet,
                    telemetry=telemetry,
                    keys={"k": SecretStr(TOKEN_KEY)},
                    active_key_id="k",
                ),
                provider("token-service", exporter),
            ),
            create_writer(
                WriterSettings(nats=nats, database=database, metrics=quiet, telemetry=telemetry),
                provider("writer", exporter),
            ),
            create_fetcher(
                FetcherSettings(
                    nats=nats, ebay=ebay, metrics=quiet, telemetry=telemetry, orders_page_size=20
                ),
                provider("fetcher", exporter),
            ),
        ]
        logging.getLogger().addHandler(logs)
        for app in apps:
            await app.start()
        try:
            async with sessions.begin() as session:
                account_id = (await create_account(session)).id
            async with httpx.AsyncClient(base_url=sandbox_url) as http:
                username = (await http.get("/sandbox/sellers")).json()[0]["username"]
                code = await approve_consent(
                    http,
                    username=username,
                    client_id=CLIENT_ID,
                    ru_name=RU_NAME,
                    scopes=SCOPE_STRING,
                )
            broker = NatsBroker(nats_url)
            await broker.connect()
            reply = await broker.request(
                ConnectAccount(account_id=account_id, authorization_code=SecretStr(code)),
                ConnectAccount.SUBJECT,
                timeout=10,
            )
            await broker.stop()
            assert ConnectAccountReply.model_validate_json(reply.body).connected
            # eBay revokes the access token the token service holds: the fetcher will get a 401.
            async with httpx.AsyncClient(base_url=sandbox_url) as http:
                for token, kind in list(sandbox.issued.items()):
                    if kind == "access_token":
                        await http.post("/sandbox/tokens/revoke", json={"token": token})
            scheduler = create_scheduler(
                SchedulerSettings(
                    nats=nats,
                    database=database,
                    metrics=quiet,
                    telemetry=telemetry,
                    tick_seconds=0.5,
                    # Orders only: the first window's trace must be the one that meets the 401.
                    families=frozenset({Family.ORDERS}),
                    settle_lag_seconds=600,
                    initial_backfill_days=20,
                    max_window_days=30,
                ),
                provider("scheduler", exporter),
            )
            apps.append(scheduler)
            await scheduler.start()
            yield Pipeline(exporter, sessions, sandbox, sandbox_url, logs, account_id)
        finally:
            for app in reversed(apps):
                await app.stop()
            logging.getLogger().removeHandler(logs)
            await engine.dispose()


def trace_of(spans: tuple[ReadableSpan, ...], trace_id: str) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and f"{s.context.trace_id:032x}" == trace_id]


def render_tree(spans: list[ReadableSpan]) -> str:
    """The trace as an indented tree: service, span name and duration in ms."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time or 0):
            ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            lines.append(f"{'  ' * depth}{service_of(span)}: {span.name} ({ms:.1f} ms)")
            assert span.context is not None
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes[SERVICE_NAME])


async def first_run(pipeline: Pipeline) -> SyncRun | None:
    """The first succeeded orders window (every family is scheduled; orders span pages)."""
    async with pipeline.sessions() as session:
        return await session.scalar(
            select(SyncRun)
            .where(
                SyncRun.account_id == pipeline.account_id,
                SyncRun.family == "orders",
                SyncRun.status == "succeeded",
            )
            .order_by(SyncRun.finished_at)
            .limit(1)
        )


async def test_one_trace_per_window_and_no_secret_anywhere(pipeline: Pipeline) -> None:
    async def succeeded() -> bool:
        return await first_run(pipeline) is not None

    await eventually(succeeded, within=60, what="the first window succeeded", interval=0.3)
    run = await first_run(pipeline)
    assert run is not None
    assert run.trace_id is not None
    assert run.pages_written >= 2, "the window should span several pages"

    spans = trace_of(pipeline.spans.get_finished_spans(), run.trace_id)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "trace-of-one-window.txt").write_text(render_tree(spans) + "\n")
    by_service: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_service.setdefault(service_of(span), []).append(span)
    # The scheduler's decision, the fetcher's window, the token service's answer, every page.
    assert {"scheduler", "fetcher", "token-service", "writer"} <= set(by_service)
    roots = [s for s in spans if s.parent is None]
    assert [service_of(s) for s in roots] == ["scheduler"]
    assert roots[0].name == "schedule sync.window.orders.{account}"
    writes = [s for s in by_service["writer"] if s.name == "sync.page.orders.{account} process"]
    assert len(writes) == run.pages_written
    published = [s for s in by_service["fetcher"] if s.name == "sync.page.orders.{account} publish"]
    assert len(published) == run.pages_written
    ebay_calls = [s for s in by_service["fetcher"] if s.name.startswith("GET")]
    assert len(ebay_calls) >= run.pages_written  # a 401 and its retry add one
    assert any(s.attributes.get("http.status_code") == 401 for s in ebay_calls if s.attributes)
    # asyncpg is patched process-wide, so here its spans carry whichever service patched it
    # first; what matters is that each page's statements sit under that page's span.
    write_ids = {w.context.span_id for w in writes if w.context is not None}
    sql = [
        s
        for s in spans
        if s.parent is not None
        and s.parent.span_id in write_ids
        and s.attributes
        and s.attributes.get("db.system") == "postgresql"
    ]
    assert len(sql) >= 4 * len(writes), "every page's statements are in the trace"
    for span in writes:
        assert span.attributes is not None
        assert span.attributes[RUN_ATTRIBUTE] == str(run.run_id)
        assert span.attributes[ACCOUNT_ATTRIBUTE] == pipeline.account_id
    # No account id in any span name (cardinality): subjects name "{account}" instead.
    for span in pipeline.spans.get_finished_spans():
        assert not re.search(r"\.\d+(\s|$)", span.name), span.name

    # The same work in the metrics, labelled by family only.
    written = REGISTRY.get_sample_value(
        "ebaysync_pages_total", {"family": "orders", "stage": "written"}
    )
    assert written is not None and written >= run.pages_written
    refreshes = REGISTRY.get_sample_value(
        "ebaysync_token_refreshes_total", {"reason": "forced", "outcome": "ok"}
    )
    assert refreshes is not None and refreshes >= 1

    # Secrets: every token eBay issued, nowhere.
    tokens = pipeline.sandbox.tokens
    assert len(tokens) >= 3, "connect, and the forced refresh after the 401"
    everything = [*pipeline.logs.lines]
    for span in pipeline.spans.get_finished_spans():
        everything.append(span.name)
        everything.extend(str(v) for v in (span.attributes or {}).values())
        everything.extend(str(e.attributes) for e in span.events)
        everything.append(str(span.status.description))
    async with pipeline.sessions() as session:
        for query in (
            "SELECT coalesce(error, '') FROM sync_runs",
            "SELECT coalesce(last_error, '') FROM sync_state",
            "SELECT coalesce(detail, '') FROM token_refresh_log",
            "SELECT coalesce(refresh_error, '') FROM ebay_tokens",
        ):
            everything.extend((await session.scalars(text(query))).all())
    assert any("refreshed access token" in line for line in pipeline.logs.lines)
    leaks = [(token[:12], line[:80]) for token in tokens for line in everything if token in line]
    assert leaks == []
