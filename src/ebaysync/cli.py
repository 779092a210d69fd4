"""The ``ebaysync`` command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

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
    from ebaysync.runtime import RuntimeOptions, run_until_signalled

    options = RuntimeOptions(
        data_dir=data_dir,
        nats_url=nats_url,
        database_url=database_url,
        admin_port=admin_port,
        sellers=sellers,
    )
    asyncio.run(run_until_signalled(options))


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


def main() -> None:
    app()
