"""The account page's push panel in a real browser: the subscriptions and their state, the
reason a topic is unavailable, the counters, and the Workers table's "live" mark. Admin API over
HTTP on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.settings import PushSettings
from common.db.accounts import EbayAccount
from common.db.push import ReceivedNotification
from common.db.push_state import PushStateRepository
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
REASON = "push unavailable for messages: reconnect"


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
    # The job stays off: the test seeds what it would have written.
    push = PushSettings(enabled=True, subscriptions_seconds=0)
    settings = admin_settings(nats_url, migrated_database_url, push=push)
    async with serve_admin_http(settings) as url:
        yield url


async def seeded_account(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, EbayAccount]:
    now = datetime.now(UTC)
    email = f"push-admin-{uuid.uuid4().hex[:8]}@example.com"
    async with sessions.begin() as session:
        org = await create_org(session)
        await create_user(session, org.id, "admin", email=email)
        account = await create_account(session, org_id=org.id)
        state = PushStateRepository(session)
        await state.save(
            account_id=account.id,
            application="browser-app",
            at=now,
            api="rest",
            topic="ORDER_CONFIRMATION",
            ebay_subscription_id="sub-1",
            destination_id="dest-1",
            status="ENABLED",
            detail=None,
        )
        await state.save(
            account_id=account.id,
            application="browser-app",
            at=now,
            api="rest",
            topic="NEW_MESSAGE",
            ebay_subscription_id=None,
            destination_id=None,
            status="UNAVAILABLE",
            detail=REASON,
        )
        session.add(
            ReceivedNotification(
                source="rest",
                notification_id=f"browser-{uuid.uuid4().hex}",
                topic="ORDER_CONFIRMATION",
                account_id=account.id,
                family="orders",
                targets=["1-1"],
                received_at=now - timedelta(minutes=1),
            )
        )
    return email, account


async def test_the_push_panel_and_the_live_mark(
    admin_url: str, browser: Browser, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email, account = await seeded_account(sessions)
    page: Page = await browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(admin_url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#whoami")).to_contain_text(email)

    await page.goto(f"{admin_url}/#/accounts/{account.id}")
    await expect(page.get_by_test_id("push-unavailable")).to_have_text(REASON)
    table = page.get_by_test_id("push-table")
    await expect(table.locator("tbody tr")).to_have_count(2)
    await expect(table.locator("tr[data-topic=ORDER_CONFIRMATION]")).to_contain_text("enabled")
    await expect(table.locator("tr[data-topic=ORDER_CONFIRMATION]")).to_contain_text("1")
    await expect(table.locator("tr[data-topic=NEW_MESSAGE]")).to_contain_text("unavailable")
    await expect(page.get_by_test_id("push-panel")).to_contain_text("orders 1 notifications")
    workers = page.locator("tr[data-family=orders]")
    await expect(workers.get_by_test_id("push-live")).to_have_text("live")
    await expect(page.locator("tr[data-family=returns]").get_by_test_id("push-live")).to_have_count(
        0
    )
    assert errors == []
