"""One seller's whole system (``ebaysync.runtime``, every service its own process) for the push
end-to-end tests: the scheduler on a short tick with the test's cadence, the sandbox's clock
frozen (the test moves it), and push on, either as :func:`testkit.push.subscribe` wants it (the
test chooses the topics) or as ``ebaysync up`` sets it (its subscriptions job subscribes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from embedded_servers import find_free_port
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ebaysync.runtime import LocalSecrets, RuntimeOptions
from testkit import servers
from testkit.push import push_service_env
from testkit.servers import DatabaseServer
from testkit.system import running_system


@dataclass
class PushSystem:
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    account_id: int
    username: str
    admin_url: str
    # The sandbox application's secret: subscribing by hand needs its tokens.
    client_secret: str


@asynccontextmanager
async def push_system(
    nats_url: str,
    database_server: DatabaseServer,
    tmp_path: Path,
    name: str,
    *,
    cadence: timedelta,
    settle_lag: timedelta,
    backfill_days: float,
    sandbox_env: Mapping[str, str],
    subscribe_by_hand: bool = True,
) -> AsyncIterator[PushSystem]:
    """``subscribe_by_hand``: the ingress on with the subscriptions job off (the test calls
    :func:`testkit.push.subscribe`); otherwise ``ebaysync up``'s own push settings."""
    admin_port = find_free_port()
    options = RuntimeOptions(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        database_url=database_server.create_database(servers.unique_database_name(name)),
        admin_port=admin_port,
        sellers=1,
        service_env={
            "SCHEDULER_TICK_SECONDS": "1",
            "SCHEDULER_CADENCE_SECONDS": str(cadence.total_seconds()),
            "SCHEDULER_SNAPSHOT_CADENCE_SECONDS": str(cadence.total_seconds()),
            "SCHEDULER_SETTLE_LAG_SECONDS": str(settle_lag.total_seconds()),
            "SCHEDULER_INITIAL_BACKFILL_DAYS": str(backfill_days),
            "OTEL_LOG_FORMAT": "text",
            **(push_service_env(admin_port) if subscribe_by_hand else {}),
        },
        sandbox_env={"SANDBOX_CLOCK_FROZEN": "true", **sandbox_env},
    )
    async with running_system(options, sandbox_timeout=60) as running:
        account = await running.only_account()
        secret = LocalSecrets.load_or_create(options.data_dir / "secrets.json")
        yield PushSystem(
            running.sessions,
            running.sandbox,
            account.id,
            account.username,
            running.admin_url,
            secret.sandbox_client_secret,
        )
