"""The account's purpose in a real browser: the connect form offers it, the accounts list and
the account page show it, an admin changes it and the workers table follows at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser, Dialog, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.security import issue_login_token
from testkit.admin import (
    JWT_SECRET,
    admin_settings,
    create_user,
    find_or_install_chromium,
    serve_admin_http,
)
from testkit.factories import create_account, create_org

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = await asyncio.to_thread(find_or_install_chromium)
    assert executable is not None, "needs Debian's chromium: apt-get install chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def test_an_admin_turns_a_buyer_account_into_a_seller_account(
    nats_url: str,
    migrated_database_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    browser: Browser,
) -> None:
    async with sessions.begin() as session:
        org = await create_org(session)
        admin = await create_user(session, org.id, "admin")
        account = await create_account(session, org_id=org.id, purpose="buyer")
    token = issue_login_token(JWT_SECRET, admin.id, org.id, datetime.now(UTC), timedelta(hours=1))
    async with serve_admin_http(admin_settings(nats_url, migrated_database_url)) as url:
        page = await browser.new_page()
        await page.add_init_script(f"sessionStorage.setItem('token', {token!r})")
        await page.goto(f"{url}/#/accounts")
        await expect(page.locator("tbody")).to_contain_text("buyer")
        options = page.locator("select[name=purpose] option")
        await expect(options).to_have_text(["both", "seller", "buyer"])

        await page.goto(f"{url}/#/accounts/{account.id}")
        workers = page.get_by_test_id("workers-table")
        await expect(workers.locator("tr[data-family]")).to_have_count(1)
        await expect(workers.locator("tr[data-family=purchases]")).to_have_count(1)

        async def answer(dialog: Dialog) -> None:
            await dialog.accept("seller")

        page.on("dialog", answer)
        await page.get_by_role("button", name="Purpose").click()
        await expect(page.locator("#toast")).to_contain_text("reconnect to grant")
        await expect(page.locator(".sub").first).to_contain_text("seller")
        await expect(workers.locator("tr[data-family=orders]")).to_have_count(1)
        await expect(workers.locator("tr[data-family=purchases]")).to_have_count(0)
