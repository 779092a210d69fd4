"""``ebaysync repair`` on real NATS and PostgreSQL: a pair frozen by a forged page (cursor at
2099, an order at version 2098) gets its cursor back, a re-sync window on the bus, a run in the
history — and the re-sync puts the genuine order back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from common.db.sync import SyncRepository
from common.messages import Trigger
from ebaysync.cli import app
from testkit.factories import create_account
from testkit.repair import (
    FORGED_CURSOR,
    GENUINE_TOTAL,
    cursor_of,
    freeze_pair,
    order_of,
    queued_window,
    resync,
)

pytestmark = [pytest.mark.nats, pytest.mark.postgres]


async def invoke(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, ["repair", *args])
    return result.exit_code, result.output


async def test_repair_resets_the_cursor_and_re_syncs_the_pair(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        account = await create_account(session)
    pair = await freeze_pair(sessions, account.id)
    assert await cursor_of(sessions, account.id) == FORGED_CURSOR
    since = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)

    code, output = await invoke(
        "--account", str(account.id), "--family", "orders", "--since", since.isoformat(),
        "--database-url", migrated_database_url, "--nats-url", nats_url,
    )  # fmt: skip

    assert code == 0, output
    assert output.startswith("queued: cursor reset to ")
    assert await cursor_of(sessions, account.id) == since
    # The forged version no longer outranks the genuine one.
    assert (await order_of(sessions, pair.order_id)).last_modified_date == since
    window = await queued_window(topology, account.id)
    assert window.trigger is Trigger.REPAIR and window.window_from is not None
    assert window.window_from <= since < window.window_to
    async with sessions() as session:
        run = await SyncRepository(session).get_run(window.run_id)
    assert run is not None and run.trigger == "repair" and run.status == "queued"
    assert run.requested_by is not None and run.requested_by.startswith("cli")

    await resync(sessions, window, pair)
    restored = await order_of(sessions, pair.order_id)
    assert restored.total_value == GENUINE_TOTAL
    assert restored.last_modified_date == pair.genuine_modified
    assert await cursor_of(sessions, account.id) == window.window_to


async def test_a_pair_with_a_window_in_flight_is_not_repaired(
    migrated_database_url: str,
    nats_url: str,
    topology: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        account = await create_account(session)
    await freeze_pair(sessions, account.id)
    args = (
        "--account", str(account.id), "--family", "orders",
        "--database-url", migrated_database_url, "--nats-url", nats_url,
    )  # fmt: skip
    assert (await invoke(*args))[0] == 0  # the first repair's window is in flight now
    code, output = await invoke(*args)
    assert code == 1 and output.startswith("in_flight:"), output
    # The first repair stands: the cursor is where it put it (the backfill start).
    assert await cursor_of(sessions, account.id) < datetime.now(UTC) - timedelta(days=80)


async def test_an_unknown_account_is_an_error(
    migrated_database_url: str, nats_url: str, topology: JetStreamContext
) -> None:
    code, output = await invoke(
        "--account", "no-such-house", "--family", "orders",
        "--database-url", migrated_database_url, "--nats-url", nats_url,
    )  # fmt: skip
    assert code == 2 and "must name one account (found: none)" in output
