"""``ebaysync repair``: the command line's way into :func:`common.repair.repair_pair`."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import create_async_engine

from common.bus import build_broker
from common.control import PauseSwitch
from common.db.engine import build_sessionmaker
from common.families import Family
from common.repair import RepairResult, repair_pair
from common.settings import NatsSettings, WindowSettings
from common.streams import BUCKETS
from ebaysync.verify import accounts_to_verify


class RepairError(Exception):
    pass


def operator() -> str:
    """Who runs the command, for the run history."""
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:  # no login name (a container without a passwd entry)
        return "cli"


async def repair(
    database_url: str,
    nats_url: str,
    account: str,
    family: Family,
    since: datetime | None,
    *,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> RepairResult:
    """Repair one pair; ``account`` is an id, eBay username or house name."""
    engine = create_async_engine(database_url)
    sessions = build_sessionmaker(engine)
    broker = build_broker("ebaysync-cli", NatsSettings(url=nats_url), TracerProvider())
    try:
        matches = await accounts_to_verify(sessions, account)
        if len(matches) != 1:
            found = ", ".join(str(a.id) for a in matches) or "none"
            raise RepairError(f"--account {account} must name one account (found: {found})")
        async with broker:
            kv = await broker.key_value(BUCKETS.control.bucket, declare=False)
            async with sessions() as session:
                return await repair_pair(
                    session,
                    broker,
                    TracerProvider().get_tracer("ebaysync-cli"),
                    account=matches[0],
                    family=family,
                    since=since,
                    now=now or datetime.now(UTC),
                    # The scheduler's own settings (SCHEDULER_*), as Run now uses them.
                    policy=WindowSettings().policy(family),
                    paused=await PauseSwitch(kv).applies_to(matches[0].org_id),
                    requested_by=requested_by or operator(),
                    publish_timeout=NatsSettings(url=nats_url).publish_timeout_seconds,
                )
    finally:
        await engine.dispose()
