"""Security headers on every response, and /docs from pinned local assets (finding 8)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from admin_api.headers import SECURITY_HEADERS
from testkit.admin import admin_settings, serve_admin

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


@pytest.fixture
async def client(migrated_database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_admin(admin_settings(nats_url, migrated_database_url)) as (app, _):

        @app.get("/test-only/crash")
        async def crash() -> None:
            raise RuntimeError("a bug")

        # Starlette's own 500 page, as a server would send it (not re-raised in the client).
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
            yield client


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/docs", 200),
        ("/docs/assets/swagger-ui-bundle.js", 200),
        ("/openapi.json", 200),
        ("/api/auth/me", 401),
        ("/api/accounts", 401),
        ("/api/oauth/callback", 400),
        ("/api/oauth/callback?error=access_denied", 400),
        ("/ui/app.js", 200),
        ("/healthz", 200),
        ("/metrics/", 200),
        ("/no/such/page", 404),
        ("/test-only/crash", 500),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text[:200]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp


async def test_docs_load_only_pinned_assets_from_this_origin(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert "<script>" not in page  # no inline script: the CSP would block it
    for source in sources:
        assert (await client.get(source)).status_code == 200, source
    assert (await client.get("/redoc")).status_code == 404  # ReDoc would load from a CDN


async def test_the_headers_wrap_the_app_without_hiding_it_from_tracing(
    migrated_database_url: str, nats_url: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = admin_settings(nats_url, migrated_database_url)
    async with serve_admin(settings, provider) as (_, client):
        response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert all(response.headers[name] == value for name, value in SECURITY_HEADERS.items())
    # OpenTelemetry's FastAPI instrumentation still sees every request.
    names = [span.name for span in exporter.get_finished_spans()]
    assert "GET /api/auth/me" in names, names
