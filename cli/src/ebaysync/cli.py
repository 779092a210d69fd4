"""The ``ebaysync`` command line."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from common.families import Family

app = typer.Typer(
    help="ebaysync: a PostgreSQL mirror of many eBay seller accounts.", no_args_is_help=True
)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Where NATS, PostgreSQL and runtime state live.")
]


@app.command()
def up(
    data_dir: DataDir = Path(".data"),
    nats_url: Annotated[str | None, typer.Option(help="Use this NATS server instead.")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Use this PostgreSQL (postgresql+asyncpg://…) instead.")
    ] = None,
    admin_port: Annotated[int, typer.Option(help="Port of the admin API.")] = 8000,
    sellers: Annotated[int, typer.Option(help="Sandbox sellers to generate.")] = 3,
) -> None:
    """Run the whole system on this machine: NATS, PostgreSQL, the eBay sandbox, every service."""
    from ebaysync.runtime import DataDirError, RuntimeOptions, run_until_signalled

    options = RuntimeOptions(
        data_dir=data_dir,
        nats_url=nats_url,
        database_url=database_url,
        admin_port=admin_port,
        sellers=sellers,
    )
    try:
        asyncio.run(run_until_signalled(options))
    except DataDirError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command()
def down(data_dir: DataDir = Path(".data")) -> None:
    """Stop a system started with ``ebaysync up`` on this data directory."""
    import json
    import os
    import signal

    runtime_file = data_dir / "runtime.json"
    if not runtime_file.exists():
        typer.echo(f"nothing runs on {data_dir} (no runtime.json)")
        raise typer.Exit(1)
    pid = int(json.loads(runtime_file.read_text())["pid"])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        typer.echo(f"ebaysync (pid {pid}) is not running")
        raise typer.Exit(1) from None
    typer.echo(f"asked ebaysync (pid {pid}) to stop")


@app.command()
def migrate(
    database_url: Annotated[
        str, typer.Option(envvar="DATABASE_URL", help="postgresql+asyncpg://…")
    ],
) -> None:
    """Apply every database migration."""
    from common.db.migrate import upgrade

    upgrade(database_url)
    typer.echo("database is at the newest revision")


@app.command()
def topology(
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL")],
    replicas: Annotated[
        int | None, typer.Option(help="Copies of every stream (3 on a cluster); default: keep.")
    ] = None,
) -> None:
    """Create or update every JetStream stream, consumer and bucket (run at deploy time)."""
    import nats

    from common.streams import ensure_topology

    async def apply() -> None:
        connection = await nats.connect(nats_url)
        try:
            await ensure_topology(connection.jetstream(), replicas)
        finally:
            await connection.close()

    asyncio.run(apply())
    typer.echo("JetStream topology is up to date")


@app.command()
def sandbox(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8900,
    sellers: Annotated[int | None, typer.Option(help="How many sellers to generate.")] = None,
    profile: Annotated[
        str | None, typer.Option(help="tiny, small, medium, large, huge, or a list: huge,small")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed, same sellers.")] = None,
) -> None:
    """Run the eBay sandbox alone (every other SANDBOX_* variable applies too)."""
    import uvicorn

    from ebay_sandbox.app import create_app
    from ebay_sandbox.settings import SandboxConfig

    overrides = {"sellers": sellers, "profile": profile, "seed": seed}
    config = SandboxConfig.model_validate(
        {**SandboxConfig().model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    )
    uvicorn.run(create_app(config), host=host, port=port)


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="DATABASE_URL",
        help="postgresql+asyncpg://…; default: the database of `ebaysync up` (--data-dir).",
    ),
]
FamilyOption = Annotated[
    list[str] | None, typer.Option("--family", help="Only this family (repeatable).")
]
AccountOption = Annotated[
    str | None, typer.Option(help="Only this account: id, eBay username or house name.")
]


def _families(names: list[str] | None) -> list[Family] | None:
    try:
        return [Family(name) for name in names] if names else None
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}; families: {', '.join(Family)}") from None


def _database_url(database_url: str | None, data_dir: Path) -> str:
    from ebaysync.addresses import AddressError, resolve_database_url

    try:
        return resolve_database_url(database_url, data_dir)
    except AddressError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command("verify")
def verify_command(
    data_dir: DataDir = Path(".data"),
    database_url: DatabaseUrl = None,
    sandbox_url: Annotated[
        str | None,
        typer.Option(help="The eBay sandbox; default: the one of `ebaysync up` (--data-dir)."),
    ] = None,
    account: AccountOption = None,
    family: FamilyOption = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Compare incremental families from here (default: backfill start)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Reconcile the mirror with the source per account and family; exit 1 if they differ.

    Prints the records the mirror is missing, holds in excess, or holds differently, and any
    duplicated history (rules: ``ebaysync/verify.py``).
    """
    import json

    import httpx

    from ebaysync.addresses import resolve_sandbox_url
    from ebaysync.verify import format_report, verify

    url = _database_url(database_url, data_dir)
    sandbox = resolve_sandbox_url(sandbox_url, data_dir)
    if sandbox is None:
        typer.echo(
            "verify needs --sandbox-url: comparing with real eBay (counts per window) is not "
            "implemented yet",
            err=True,
        )
        raise typer.Exit(2)
    chosen = _families(family)
    start = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since

    async def run() -> list[Any]:
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        engine = create_async_engine(url)
        try:
            async with httpx.AsyncClient(base_url=sandbox, timeout=120) as http:
                return await verify(async_sessionmaker(engine), http, account, chosen, start)
        finally:
            await engine.dispose()

    reports = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in reports], indent=2))
    else:
        for report in reports:
            for line in format_report(report):
                typer.echo(line)
        if not reports:
            typer.echo("nothing to verify (no such account, or no ground truth for the family)")
    if any(not r.clean for r in reports):
        raise typer.Exit(1)


@app.command("status")
def status_command(
    data_dir: DataDir = Path(".data"),
    database_url: DatabaseUrl = None,
    account: AccountOption = None,
    family: FamilyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    watch: Annotated[
        bool, typer.Option(help="A live view, refreshed every second (Ctrl-C ends it).")
    ] = False,
) -> None:
    """Per account and family: cursor, lag, last run, paused / needs-reauth; --watch: live."""
    import json

    from rich.console import Console

    from ebaysync.status import print_status, watch_status

    url = _database_url(database_url, data_dir)
    chosen = _families(family)
    if watch:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(watch_status(url, account, chosen))
        return
    if as_json:
        rows = asyncio.run(print_status(url, account, chosen))
        typer.echo(json.dumps([r.as_json() for r in rows], indent=2))
    else:
        asyncio.run(print_status(url, account, chosen, Console()))


@app.command("repair")
def repair_command(
    account: Annotated[str, typer.Option(help="The account: id, eBay username or house name.")],
    family: Annotated[str, typer.Option(help="The family to repair, e.g. orders.")],
    since: Annotated[
        str | None,
        typer.Option(help="ISO time the cursor goes back to (default: the backfill start)."),
    ] = None,
    data_dir: DataDir = Path(".data"),
    database_url: DatabaseUrl = None,
    nats_url: Annotated[
        str | None,
        typer.Option(envvar="NATS_URL", help="Default: the NATS of `ebaysync up` (--data-dir)."),
    ] = None,
) -> None:
    """Reset a pair's cursor after a bad page and re-sync from there (recorded as a run with
    trigger "repair"); exit 1 if it cannot be repaired now."""
    from ebaysync.addresses import runtime_info
    from ebaysync.repair import RepairError, repair

    [chosen] = _families([family]) or []
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError as exc:
            raise typer.BadParameter(f"--since {since!r}: {exc}") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    nats = nats_url or runtime_info(data_dir).get("nats_url")
    if not isinstance(nats, str):
        typer.echo("no NATS: pass --nats-url (or NATS_URL), or --data-dir", err=True)
        raise typer.Exit(2)
    try:
        result = asyncio.run(
            repair(_database_url(database_url, data_dir), nats, account, chosen, start)
        )
    except RepairError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{result.outcome}: {result.detail}")
    if result.outcome in ("blocked", "in_flight"):
        raise typer.Exit(1)


@app.command("rotate-tokens")
def rotate_tokens_command(
    data_dir: DataDir = Path(".data"),
    database_url: DatabaseUrl = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Tokens per transaction.")] = 100,
) -> None:
    """Re-encrypt every stored token with the active key; exit 1 if some token is unreadable.

    The key ring comes from TOKEN_SERVICE_KEYS and TOKEN_SERVICE_ACTIVE_KEY_ID, as the token
    service reads it (give the token services the new ring first); without them, from the
    secrets of `ebaysync up` in --data-dir. Safe to run again: it only moves what is left.
    """
    from pydantic import SecretStr, ValidationError

    from common.settings import PostgresSettings
    from token_service.rotation import describe, rotate_with_settings
    from token_service.settings import TokenServiceSettings

    database = PostgresSettings(url=SecretStr(_database_url(database_url, data_dir)))
    secrets_file = data_dir / "secrets.json"
    try:
        settings = TokenServiceSettings(database=database)
    except ValidationError as exc:
        # No key ring in the environment: the embedded runtime's, if there is one.
        if not secrets_file.exists() or any(e["type"] != "missing" for e in exc.errors()):
            # Names and messages only: pydantic's text would echo the input, i.e. the keys.
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            typer.echo(f"no usable key ring (TOKEN_SERVICE_KEYS, …): {problems}", err=True)
            raise typer.Exit(2) from None
        from ebaysync.runtime_local import TOKEN_KEY_ID, LocalSecrets

        local = LocalSecrets.load_or_create(secrets_file)
        settings = TokenServiceSettings(
            database=database,
            keys={TOKEN_KEY_ID: SecretStr(local.token_key)},
            active_key_id=TOKEN_KEY_ID,
        )
    report = asyncio.run(
        rotate_with_settings(settings, lambda: datetime.now(UTC), batch_size=batch_size)
    )
    for line in describe(report):
        typer.echo(line)
    if report.unreadable or report.signing_keys_unreadable:
        raise typer.Exit(1)


@app.command("budget")
def budget_command(
    accounts: Annotated[
        int | None,
        typer.Option(min=1, help="Simulate the plan for N accounts (default: the live plan)."),
    ] = None,
    quotas: Annotated[
        str, typer.Option(help="default, growth, or a JSON FILE of quotas (with --accounts).")
    ] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = Path(".data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Per API the quota, projected calls per day and share; per family the freshness the plan
    achieves: the scheduler's latest plan, or simulated for --accounts N."""
    from ebaysync.budget import QuotaFileError, format_report, load_quotas, simulate, stored_report

    if accounts is None:
        report = asyncio.run(stored_report(_database_url(database_url, data_dir)))
        if report is None:
            typer.echo("no budget plan stored yet: is the scheduler running?", err=True)
            raise typer.Exit(1)
        source = "live"
    else:
        try:
            chosen, label = load_quotas(quotas)
        except QuotaFileError as exc:
            raise typer.BadParameter(str(exc), param_hint="--quotas") from None
        report, source = simulate(accounts, chosen), f"{accounts} accounts simulated, {label}"
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        typer.echo("\n".join(format_report(report.model_dump(mode="json"), source)))


def main() -> None:
    app()
