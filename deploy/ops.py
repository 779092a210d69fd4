"""Deploy steps that run in any service image: ``python /app/ops.py migrate|topology``.

* ``migrate`` applies every database migration (``DATABASE_URL``).
* ``topology --replicas N`` creates or updates every stream, durable consumer and KV bucket of
  ``common.streams`` on the NATS server at ``NATS_URL`` (as a user allowed to manage streams),
  with N replicas: 1 on a single node, 3 on the production cluster (deploy/nats/).

Both call the one definition, ``common.streams.ensure_topology``; services also call it at
start (unless ``NATS_DECLARE_TOPOLOGY=false``) and then keep the replicas a stream has.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import nats
from nats.js import JetStreamContext

from common import streams
from common.settings import nats_settings, postgres_settings

log = logging.getLogger("ebaysync.ops")

STREAMS = (streams.WINDOWS, streams.PAGES, streams.DLQ, streams.ADVISORIES, streams.NOTIFICATIONS)
BUCKETS = streams.BUCKETS.all()


def stream_names() -> list[str]:
    """Every stream of the topology, KV buckets included (a bucket is stream ``KV_<name>``)."""
    return [str(s.name) for s in STREAMS] + [f"KV_{b.bucket}" for b in BUCKETS]


async def apply_topology(js: JetStreamContext, replicas: int) -> None:
    """Create or update the whole topology with ``replicas`` copies of every stream.

    Changing the replicas of an existing stream is online: JetStream adds (or drops) peers and
    the stream keeps serving. Consumers inherit the replicas of their stream.
    """
    await streams.ensure_topology(js, replicas)


async def _topology(replicas: int) -> None:
    connection = await nats.connect(nats_settings().url)
    try:
        await apply_topology(connection.jetstream(), replicas)
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ops.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply every database migration (DATABASE_URL)")
    topology = commands.add_parser("topology", help="streams, consumers, buckets (NATS_URL)")
    topology.add_argument("--replicas", type=int, default=1, choices=(1, 3, 5))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "migrate":
        from common.db.migrate import upgrade

        upgrade(postgres_settings().url.get_secret_value())
        log.info("database is at the newest revision")
    else:
        asyncio.run(_topology(args.replicas))
        log.info("JetStream topology is up to date (R%d)", args.replicas)


if __name__ == "__main__":
    main(sys.argv[1:])
