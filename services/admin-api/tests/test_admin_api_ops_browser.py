"""The operations panels in a real browser: the account page shows health checks, the scope
warning, the masked refresh preview and the last failed refresh; the Services page's jobs card
switches a job and runs it now. Admin API over HTTP on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, async_playwright, expect
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.ops import BackgroundJob, HealthCheck, HealthRepository
from common.db.tokens import StoredTokens, TokenRepository
from common.ebay.scopes import SCOPES
from common.jobs import RETENTION_PURGE
from common.settings import EbayApiSettings
from testkit.admin import (
    PASSWORD,
    admin_settings,
    create_user,
    find_or_install_chromium,
    serve_admin_http,
)
from testkit.factories import create_account, create_org

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

CLIENT_ID = "BrowserOps-ebaysync-PRD-abcdef"
CLIENT_SECRET = "PRD-browser-secret-never-shown"
FINANCES = "https://api.ebay.com/oauth/api_scope/sell.finances"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = await asyncio.to_thread(find_or_install_chromium)
    assert executable is not None, "needs Debian's chromium: apt-get install chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def admin_url(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[str]:
    async with sessions.begin() as session:
        await session.execute(delete(BackgroundJob).where(BackgroundJob.name == RETENTION_PURGE))
    settings = admin_settings(
        nats_url,
        migrated_database_url,
        ebay=EbayApiSettings(client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET)),
        retention_days=3650,
        jobs_poll_seconds=0.2,
    )
    async with serve_admin_http(settings) as url:
        yield url


async def seeded_account(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, EbayAccount]:
    now = datetime.now(UTC)
    email = f"ops-admin-{uuid.uuid4().hex[:8]}@example.com"
    narrowed = " ".join(s for s in SCOPES if s != FINANCES)
    async with sessions.begin() as session:
        org = await create_org(session)
        await create_user(session, org.id, "admin", email=email)
        account = await create_account(session, org_id=org.id)
        tokens = TokenRepository(session)
        await tokens.save(
            account.id,
            StoredTokens(
                key_id="k1",
                refresh_token_ciphertext=b"refresh-ciphertext",
                refresh_token_expires_at=now + timedelta(days=500),
                access_token_ciphertext=b"access-ciphertext",
                access_token_expires_at=now + timedelta(hours=2),
                scopes=narrowed,
                granted_scopes=narrowed,
            ),
            now,
        )
        await tokens.record_refresh_error(
            account.id,
            "invalid_grant",
            now,
            {
                "at": now.isoformat(),
                "error": "invalid_grant",
                "request": {"form": {"refresh_token": "[not shown]"}},
                "response": {"status": 400, "body": {"error": "invalid_grant"}},
            },
        )
        health = HealthRepository(session)
        await health.record(
            HealthCheck(
                account.id, now - timedelta(minutes=15), True, 200, None, 31, account.username
            )
        )
        await health.record(
            HealthCheck(account.id, now, False, 401, "1001: Invalid access token", 12, None)
        )
    return email, account


async def test_the_account_page_and_the_jobs_card(
    admin_url: str, browser: Browser, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email, account = await seeded_account(sessions)
    page: Page = await browser.new_page(viewport={"width": 1440, "height": 900})
    await page.goto(admin_url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#whoami")).to_contain_text(email)

    await page.goto(f"{admin_url}/#/accounts/{account.id}")
    health = page.get_by_test_id("health-table")
    await expect(health.locator("tbody tr")).to_have_count(2)
    await expect(health.locator("tbody tr").first).to_contain_text("401")
    await expect(health.locator("tbody tr").nth(1)).to_contain_text(account.username)
    await expect(page.get_by_test_id("health-panel")).to_contain_text("failing")

    await expect(page.get_by_test_id("scope-warning")).to_contain_text("transactions, finances")
    finances = page.get_by_test_id("scopes-table").locator("tr", has_text="sell.finances").first
    await expect(finances).to_contain_text("missing")

    refresh = page.get_by_test_id("refresh-panel")
    await expect(page.get_by_test_id("last-failure")).to_contain_text("invalid_grant")
    await refresh.get_by_role("button", name="Preview refresh").click()
    await expect(refresh).to_contain_text("Nothing was sent")
    await expect(refresh).to_contain_text("[not shown]")
    await expect(refresh).to_contain_text("Brow**********************cdef")
    text = await page.locator("main").inner_text()
    for secret in (CLIENT_SECRET, CLIENT_ID, "refresh-ciphertext", "access-ciphertext"):
        assert secret not in text

    await page.locator("nav").get_by_role("link", name="Services").click()
    row = page.get_by_test_id("jobs-card").locator(f"tr[data-job={RETENTION_PURGE}]")
    await expect(row).to_contain_text("enabled")
    await row.get_by_role("button", name="Disable").click()
    await expect(row).to_contain_text("disabled")
    await row.get_by_role("button", name="Enable").click()
    await expect(row).to_contain_text("enabled")
    await row.get_by_role("button", name="Run now").click()
    # The admin API's own runner takes the request; the card shows the result on reload.
    for _ in range(50):
        await page.reload()
        row = page.get_by_test_id("jobs-card").locator(f"tr[data-job={RETENTION_PURGE}]")
        await expect(row).to_be_visible()
        if "purged" in await row.inner_text():
            break
        await asyncio.sleep(0.2)
    await expect(row).to_contain_text("purged")
