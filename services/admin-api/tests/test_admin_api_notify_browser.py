"""The Notifications page and the Accounts page's Run everything button in a real browser
(Debian's chromium) against the admin API on loopback, real PostgreSQL and NATS, and a local
webhook receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common.db.alerts import AlertSubscription
from common.families import Family
from testkit.admin import (
    PASSWORD,
    admin_settings,
    create_user,
    find_or_install_chromium,
    serve_admin_http,
)
from testkit.factories import create_account, create_org

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

SECRET = "browser-hook-secret-0123456789"
# One account: one window per synced family.
PAIRS = len(Family)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = await asyncio.to_thread(find_or_install_chromium)
    assert executable, "needs Debian's chromium: apt-get install chromium"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[list[bytes], str]]:
    received: list[bytes] = []

    async def receive(request: Request) -> Response:
        received.append(await request.body())
        return Response(status_code=204)

    port = find_free_port()
    app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
        await asyncio.sleep(0.02)
    try:
        yield received, f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        await task


async def test_an_admin_sets_up_a_webhook_and_a_rule_and_runs_everything(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    browser: Browser,
    hooks: tuple[list[bytes], str],
) -> None:
    received, url = hooks
    async with sessions.begin() as session:
        org = await create_org(session)
        user = await create_user(session, org.id, "admin")
        await create_account(session, org_id=org.id)
    settings = admin_settings(nats_url, migrated_database_url)
    async with serve_admin_http(settings) as base_url:
        page: Page = await browser.new_page()
        await page.goto(base_url)
        await page.get_by_label("Email").fill(user.email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#whoami")).to_contain_text(user.email)

        await page.locator("nav").get_by_role("link", name="Notifications").click()
        form = page.get_by_test_id("webhook-form")
        await form.locator("input[name=name]").fill("ops hook")
        await form.locator("input[name=url]").fill(url)
        await form.locator("input[name=secret]").fill(SECRET)
        await form.get_by_role("button", name="Add webhook").click()
        channels = page.get_by_test_id("channels-table")
        await expect(channels).to_contain_text("ops hook")
        await expect(channels).to_contain_text("signed")

        await channels.get_by_role("button", name="Test").click()
        await expect(page.locator("#toast")).to_contain_text("Test notice sent")
        assert [json.loads(body)["event"] for body in received] == ["test"]

        rule_form = page.get_by_test_id("rule-form")
        await rule_form.locator("input[name=name]").fill("failing workers")
        await rule_form.locator("select[name=kind]").select_option("pair_failing")
        await rule_form.locator("select[name=channel_ids]").select_option(label="ops hook")
        await rule_form.get_by_role("button", name="Add rule").click()
        rules = page.get_by_test_id("rules-table")
        await expect(rules).to_contain_text("failing workers")
        await expect(rules).to_contain_text("ops hook")
        await rules.get_by_label("email me: failing workers").uncheck()
        await expect(page.locator("#toast")).to_contain_text("You will not be emailed")
        async with sessions() as session:
            subscribed = await session.scalar(
                select(AlertSubscription.subscribed).where(AlertSubscription.user_id == user.id)
            )
        assert subscribed is False
        assert SECRET not in await page.content()

        await page.locator("nav").get_by_role("link", name="Accounts").click()
        await page.get_by_test_id("run-everything").click()
        await expect(page.locator("#toast")).to_contain_text(f"Queued {PAIRS}, skipped 0")
        await page.get_by_test_id("run-everything").click()
        await expect(page.locator("#toast")).to_contain_text(f"Queued 0, skipped {PAIRS}")
