"""The web UI in a real browser over the whole running system.

Every service runs as its own process (``ebaysync.runtime``); headless Chromium (Debian's
``chromium`` package, installed here when missing) signs in, opens the account's workers,
presses Run now and watches that run complete through live updates, without reloading. The
workers page is saved as ``artifacts/admin-ui-workers.png``. An admin presses Repair and the
re-sync shows up as a "repair" run by that admin.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from embedded_servers import find_free_port
from nats.js import JetStreamContext
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from common.db.accounts import AccountRepository
from ebaysync.runtime import Runtime, RuntimeOptions
from ebaysync.runtime_local import DEMO_ORG
from testkit import servers
from testkit.admin import (
    PASSWORD,
    admin_settings,
    create_user,
    find_or_install_chromium,
    serve_admin_http,
)
from testkit.servers import DatabaseServer

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
EMAIL = "browser-operator@example.com"
ADMIN_EMAIL = "browser-admin@example.com"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class System:
    admin_url: str
    account_id: int


async def eventually_json(
    client: httpx.AsyncClient, path: str, within: float, check: Callable[[Any], bool]
) -> None:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = (await client.get(path)).json()
        if check(last):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"not within {within}s: {path} -> {last}")


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[System]:
    database_url = database_server.create_database(servers.unique_database_name("ui"))
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        database_url=database_url,
        admin_port=find_free_port(),
        sellers=1,
        service_env={
            "SCHEDULER_TICK_SECONDS": "1",
            # One short backfill, then nothing for an hour: the browser starts the next run.
            "SCHEDULER_CADENCE_SECONDS": "3600",
            "SCHEDULER_SETTLE_LAG_SECONDS": "60",
            "SCHEDULER_OVERLAP_SECONDS": "3600",
            "SCHEDULER_MAX_WINDOW_DAYS": "10",
            "SCHEDULER_INITIAL_BACKFILL_DAYS": "5",
            "FETCHER_ORDERS_PAGE_SIZE": "10",
            "OTEL_LOG_FORMAT": "text",
            "ADMIN_API_JWT_SECRET": "browser-test-secret-0123456789abcdef",
            "ADMIN_API_LIVE_POLL_SECONDS": "1",
        },
        sandbox_env={"SANDBOX_ORDERS_PER_DAY": "8", "SANDBOX_HISTORY_DAYS": "10"},
    )
    runtime = Runtime(options)
    info = await runtime.start()
    engine = create_async_engine(database_url)
    try:
        # An operator of the org the runtime connects the sandbox sellers into.
        async with async_sessionmaker(engine).begin() as session:
            org = await AccountRepository(session).get_or_create_org(DEMO_ORG)
            await create_user(session, org.id, "operator", email=EMAIL)
            await create_user(session, org.id, "admin", email=ADMIN_EMAIL)
        async with httpx.AsyncClient(base_url=info.admin_url, timeout=30) as client:
            credentials = {"email": EMAIL, "password": PASSWORD}
            login = await client.post("/api/auth/login", json=credentials)
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            [account] = (await client.get("/api/accounts")).json()
            # The scheduler's backfill first: Run now on a pair in flight would be refused.
            await eventually_json(
                client,
                f"/api/accounts/{account['id']}/workers",
                within=120,
                check=lambda w: w[0]["last_run"] and w[0]["last_run"]["status"] == "succeeded",
            )
        yield System(info.admin_url, account["id"])
    finally:
        await engine.dispose()
        await runtime.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = await asyncio.to_thread(find_or_install_chromium)
    if executable is None:
        pytest.skip("needs Debian's chromium: apt-get install chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(browser: Browser, url: str, email: str) -> Page:
    page: Page = await browser.new_page(viewport={"width": 1440, "height": 900})
    await page.goto(url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("overview-table")).to_contain_text("orders")
    return page


async def test_an_operator_runs_a_worker_and_watches_it_complete_live(
    system: System, browser: Browser
) -> None:
    page = await sign_in(browser, system.admin_url, EMAIL)

    await page.get_by_test_id("overview-table").get_by_role("link").first.click()
    workers = page.get_by_test_id("workers-table")
    orders = workers.locator("tr[data-family=orders]")
    await expect(orders.get_by_test_id("status")).to_have_text(re.compile("OK|Behind"))
    # Families are shown by the labels GET /api/families serves.
    await expect(orders.locator("strong").first).to_have_text("Orders")

    # Repair (cursor back, re-sync) is for admins only: an operator is not offered it.
    await expect(orders.get_by_role("button", name="Repair")).to_have_count(0)
    await orders.get_by_role("button", name="Run now").click()
    toast = page.locator("#toast")
    await expect(toast).to_contain_text("queued", timeout=10_000)
    run_id = re.search(r"Run ([0-9a-f-]{36}) queued", await toast.inner_text())
    assert run_id, await toast.inner_text()

    # Live updates: the run appears and reaches succeeded with no reload.
    run_row = page.get_by_test_id("runs-table").locator(f'tr[data-run-id="{run_id[1]}"]')
    await expect(run_row.get_by_test_id("run-status")).to_have_text("succeeded", timeout=60_000)
    await expect(orders.locator(f'[data-run-id="{run_id[1]}"]')).to_have_text("succeeded")
    await expect(orders.get_by_test_id("status")).to_have_text("OK")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "admin-ui-workers.png"), full_page=True)

    await run_row.click()
    await expect(page.get_by_test_id("pages-table")).to_contain_text("1")
    await expect(page.get_by_test_id("run-status")).to_have_text("succeeded")
    # The run's log, terminal-like: the fetcher's start, each page with its counts, the end.
    run_log = page.get_by_test_id("run-log")
    await expect(run_log).to_contain_text("fetcher page 1 start: fetch window from offset 0")
    await expect(run_log).to_contain_text("writer page 1 page: page 1")
    await expect(run_log).to_contain_text("writer done: ")
    await expect(page.get_by_test_id("cancel-run")).to_have_count(0)  # it ended
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download log").click()
    assert (await download.value).suggested_filename == f"run-{run_id[1]}.log"

    # The event inbox: the backfill's history, filterable, without reloading.
    await page.locator("nav").get_by_role("link", name="Events").click()
    events = page.get_by_test_id("events-table")
    await expect(events).to_contain_text("created")
    family_pick = page.locator("select[name=family]")
    await expect(family_pick.locator("option[value=payment_disputes]")).to_have_text(
        "Payment disputes"
    )
    await page.locator("select[name=family]").select_option("returns")
    await expect(events).to_contain_text("No events match.")
    await page.locator("select[name=family]").select_option("orders")
    await expect(events.locator("tbody tr").first).to_contain_text("orders")


async def test_an_admin_repairs_a_worker_and_the_history_says_who(
    system: System, browser: Browser
) -> None:
    page = await sign_in(browser, system.admin_url, ADMIN_EMAIL)

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()  # the prompt's default (empty: the backfill start), then confirm

    page.on("dialog", accept)
    await page.get_by_test_id("overview-table").get_by_role("link").first.click()
    orders = page.get_by_test_id("workers-table").locator("tr[data-family=orders]")
    await orders.get_by_role("button", name="Repair").click()
    await expect(page.locator("#toast")).to_contain_text("cursor reset to", timeout=10_000)
    last_run = orders.get_by_test_id("last-run")
    await expect(last_run).to_contain_text(f"repair by {ADMIN_EMAIL}", timeout=30_000)
    await expect(last_run).to_contain_text("succeeded", timeout=60_000)


async def test_docs_render_from_local_assets_under_the_csp(
    browser: Browser, migrated_database_url: str, nats_url: str
) -> None:
    """Swagger UI runs under the API's own CSP: no violation, no request off this origin."""
    async with serve_admin_http(admin_settings(nats_url, migrated_database_url)) as url:
        page = await browser.new_page()
        problems: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.on(
            "response",
            lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        await page.goto(f"{url}/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            "ebaysync admin API", timeout=30_000
        )
        await expect(page.locator(".opblock").first).to_be_visible()
        await page.close()
    assert problems == []
    assert requests and all(r.startswith(url) for r in requests), requests
