"""CPU per caught-up window of the fetcher and the token service, each in its own process.

    python3 -m uv run python scripts/profile_fetcher.py [--sellers 20] [--rounds 10]
        [--profile artifacts/fetcher.prof]

Embedded NATS and PostgreSQL, the sandbox, the token service and the fetcher run as separate
processes; this one connects the sellers, then publishes rounds of windows (every family of
every seller, each a few minutes wide: the caught-up case) and waits for the fetcher to ack
them. CPU time of each process (utime + stime from /proc) over the measured rounds, divided by
the windows, is printed; ``--profile`` runs the fetcher under cProfile and dumps its stats.
Pages go to SYNC_PAGES and are not written: the writer has its own benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from faststream.nats import NatsBroker
from pydantic import SecretStr

from common.db.engine import build_engine, build_sessionmaker
from common.db.migrate import upgrade
from common.families import SNAPSHOT_FAMILIES, Family
from common.messages import SyncWindow, Trigger, encoded
from common.metrics import MetricsSettings
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from common.streams import FETCHER_DURABLE, WINDOWS_STREAM, ensure_topology

# The test kit's connect_seller asks for consent as its own application.
from testkit.pipeline import CLIENT_ID, CLIENT_SECRET, RU_NAME

FAMILIES = list(Family)


def _ebay(sandbox_url: str) -> EbayApiSettings:
    return EbayApiSettings(
        api_base_url=sandbox_url,
        apiz_base_url=sandbox_url,
        auth_base_url=sandbox_url,
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
    )


def run_sandbox(port: int, sellers: int) -> None:
    import uvicorn

    from ebay_sandbox.app import create_app
    from ebay_sandbox.settings import SandboxConfig

    config = SandboxConfig(
        sellers=sellers,
        profile="tiny",
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        ru_name=RU_NAME,
        require_signatures=False,
    )
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")


def run_token_service(nats_url: str, database_url: str, sandbox_url: str, key: str) -> None:
    from token_service.app import create_app
    from token_service.settings import TokenServiceSettings

    app = create_app(
        TokenServiceSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(database_url)),
            ebay=_ebay(sandbox_url),
            metrics=MetricsSettings(port=0),
            keys={"k1": SecretStr(key)},
            active_key_id="k1",
            sweep_seconds=0,
            health_check_seconds=0,
        )
    )
    asyncio.run(app.run())


def run_fetcher(nats_url: str, sandbox_url: str, profile: str | None) -> None:
    from fetcher.app import create_app
    from fetcher.settings import FetcherSettings

    app = create_app(
        FetcherSettings(
            nats=NatsSettings(url=nats_url),
            ebay=_ebay(sandbox_url),
            metrics=MetricsSettings(port=0),
        )
    )
    if profile is None:
        asyncio.run(app.run())
        return
    import cProfile

    profiler = cProfile.Profile()
    started = multiprocessing.Event()

    def dump(*_: Any) -> None:
        profiler.disable()
        profiler.dump_stats(profile)
        os._exit(0)

    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    signal.signal(signal.SIGUSR2, dump)
    del started
    asyncio.run(app.run())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def connect_sellers(
    broker: NatsBroker, database_url: str, sandbox_url: str
) -> list[tuple[int, str]]:
    from testkit.pipeline import connect_seller

    engine = build_engine(PostgresSettings(url=SecretStr(database_url)))
    sessions = build_sessionmaker(engine)
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        sellers = (await http.get("/sandbox/sellers")).json()
    connected = [await connect_seller(broker, sessions, sandbox_url, s) for s in sellers]
    await engine.dispose()
    return [(seller.account_id, seller.username) for seller in connected]


async def one_round(broker: NatsBroker, accounts: list[tuple[int, str]], now: datetime) -> int:
    js = broker.config.connection_state.stream
    count = 0
    for account_id, _ in accounts:
        for family in FAMILIES:
            window = SyncWindow(
                run_id=uuid.uuid4(),
                account_id=account_id,
                family=family,
                window_from=None if family in SNAPSHOT_FAMILIES else now - timedelta(minutes=10),
                window_to=now - timedelta(minutes=5),
                trigger=Trigger.SCHEDULE,
                issued_at=now,
            )
            await js.publish(
                window.subject,
                encoded(window),
                stream=WINDOWS_STREAM,
                headers={"Nats-Msg-Id": window.message_id},
            )
            count += 1
    while True:
        info = await js.consumer_info(WINDOWS_STREAM, FETCHER_DURABLE)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return count
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> None:
    from embedded_servers import EmbeddedNats, EmbeddedPostgres, find_free_port

    from token_service.crypto import generate_key

    tmp = Path(tempfile.mkdtemp(prefix="prof-fetcher-"))
    spawn = multiprocessing.get_context("spawn")
    with EmbeddedNats(tmp / "nats") as nats_server, EmbeddedPostgres(tmp / "pg") as pg:
        database_url = pg.admin_url(pg.database)
        await asyncio.to_thread(upgrade, database_url)
        port = find_free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        sandbox = spawn.Process(target=run_sandbox, args=(port, args.sellers))
        sandbox.start()
        tokens = spawn.Process(
            target=run_token_service,
            args=(nats_server.url, database_url, sandbox_url, generate_key()),
        )
        tokens.start()
        fetcher = spawn.Process(
            target=run_fetcher, args=(nats_server.url, sandbox_url, args.profile)
        )
        broker = NatsBroker(nats_server.url)
        try:
            await broker.connect()
            await ensure_topology(broker.config.connection_state.stream)
            async with httpx.AsyncClient() as http:
                for _ in range(1200):
                    try:
                        (await http.get(f"{sandbox_url}/sandbox/clock")).raise_for_status()
                        break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.1)
                now = datetime.fromisoformat(
                    (await http.get(f"{sandbox_url}/sandbox/clock")).json()["now"]
                )
            await asyncio.sleep(3)  # the token service subscribes
            accounts = await connect_sellers(broker, database_url, sandbox_url)
            fetcher.start()
            await asyncio.sleep(4)
            # Warm-up: first tokens, signing keys, connections.
            await one_round(broker, accounts, now)
            await one_round(broker, accounts, now)
            assert fetcher.pid is not None and tokens.pid is not None
            if args.profile:
                os.kill(fetcher.pid, signal.SIGUSR1)
            pids = {"fetcher": fetcher.pid, "token-service": tokens.pid, "sandbox": sandbox.pid}
            before = {name: cpu_seconds(pid) for name, pid in pids.items() if pid}
            started = time.monotonic()
            windows = 0
            for _ in range(args.rounds):
                windows += await one_round(broker, accounts, now)
            elapsed = time.monotonic() - started
            after = {name: cpu_seconds(pid) for name, pid in pids.items() if pid}
            print(f"{windows} windows in {elapsed:.1f}s ({windows / elapsed:.0f}/s)")  # noqa: T201
            for name in before:
                ms = 1000 * (after[name] - before[name]) / windows
                print(f"  {name:14} {ms:6.2f} ms CPU per window")  # noqa: T201
            if args.profile:
                os.kill(fetcher.pid, signal.SIGUSR2)
                fetcher.join(30)
        finally:
            await broker.stop()
            for process in (fetcher, tokens, sandbox):
                if process.pid is not None and process.is_alive():
                    process.terminate()
                    process.join(15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sellers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profile", default=None)
    asyncio.run(main(parser.parse_args()))
