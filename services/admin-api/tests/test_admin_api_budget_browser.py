"""The Budget page in a real browser: per API the quota and projection, per family the planned
freshness, the org's slowed pairs and why, the fallback banner when quotas come from the
configuration, and eBay's reading. Admin API over HTTP on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, async_playwright, expect
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.budget import BudgetInputs, BudgetSettings, PairLoad, plan_budget
from common.db.budget import BudgetRepository
from common.db.quotas import QuotaReadingRepository
from common.ebay.quota import EbayApi
from common.families import Family
from common.ledger import DailyQuotas
from common.quotas import StoredReading
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

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
FAILED = "getRateLimits failed (EbayTransientError: HTTP 500): using the configured quotas"
CLIENT_ID = f"budget-browser-{uuid.uuid4().hex[:8]}"


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
    migrated_database_url: str, nats_url: str, topology: JetStreamContext
) -> AsyncIterator[str]:
    ebay = EbayApiSettings(client_id=CLIENT_ID, client_secret=SecretStr("x"))
    settings = admin_settings(nats_url, migrated_database_url, ebay=ebay)
    async with serve_admin_http(settings) as url:
        yield url


async def seeded(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    email = f"budget-viewer-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        org = await create_org(session)
        await create_user(session, org.id, "viewer", email=email)
        account = await create_account(session, org_id=org.id)
        pairs = {
            Family.MESSAGES: [PairLoad(account.id, quiet_runs=8)],
            Family.ORDERS: [PairLoad(account.id)],
        }
        # Trading's budget nearly spent (20 calls left for the day): the quiet pair backs off.
        inputs = BudgetInputs(
            now=now,
            configured=DailyQuotas(),
            used_today={EbayApi.TRADING: 4480},
            pairs=pairs,
            horizon=timedelta(days=1),
        )
        report = plan_budget(inputs, BudgetSettings())
        report = report.model_copy(update={"notes": [FAILED, *report.notes]})
        await BudgetRepository(session).store(report, keep=5)
        failed = StoredReading(now, False, [], detail="EbayTransientError: HTTP 500")
        await QuotaReadingRepository(session).store(CLIENT_ID, failed)
    return email, account.house_name


async def test_the_budget_page(
    admin_url: str, browser: Browser, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email, house_name = await seeded(sessions)
    page: Page = await browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(admin_url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#whoami")).to_contain_text(email)

    await page.locator("nav a[data-nav=budget]").click()
    await expect(page.get_by_test_id("budget-source")).to_have_text("configured")
    await expect(page.get_by_test_id("budget-fallback")).to_contain_text(FAILED)
    apis = page.get_by_test_id("budget-apis")
    await expect(apis.locator("tbody tr")).to_have_count(len(DailyQuotas.model_fields))
    await expect(apis.locator("tr[data-api=trading]")).to_contain_text("5,000")
    await expect(apis.locator("tr[data-api=trading]")).to_contain_text("4,500")
    families = page.get_by_test_id("budget-families")
    await expect(families.locator("tr[data-family=orders]")).to_contain_text("within aim")
    await expect(families.locator("tr[data-family=messages]")).to_be_visible()
    slowed = page.get_by_test_id("budget-slowed")
    await expect(slowed.locator("tbody tr")).to_have_count(1)
    await expect(slowed).to_contain_text(house_name)
    await expect(slowed).to_contain_text("messages")
    reading = page.get_by_test_id("budget-page")
    await expect(reading).to_contain_text("Failed: EbayTransientError: HTTP 500")
    await expect(page.get_by_test_id("budget-reset")).not_to_have_text("—")
    assert errors == []
