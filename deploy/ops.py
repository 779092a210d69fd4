"""Deploy steps that run in any service image: ``python /app/ops.py migrate|topology``.

* ``migrate`` applies every database migration (``DATABASE_URL``).
* ``topology --replicas N`` creates or updates every stream, durable consumer and KV bucket of
  ``common.streams`` on the NATS server at ``NATS_URL`` (as a user allowed to manage streams),
  with N replicas: 1 on a single node, 3 on the production cluster (deploy/nats/).

``common.streams.ensure_topology`` declares the same objects but always with one replica, and
the services call it at every start: on a cluster that *scales replicated streams back to one
replica* (verified on nats-server 2.15). Until it keeps the replicas it finds, run this step
again after a rollout (docs/operations.md). tests/deploy/test_deploy_topology.py proves that
this script and ``ensure_topology`` declare the same topology.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys

import nats
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, KeyValueConfig, StreamConfig
from nats.js.errors import NotFoundError

from common import streams
from common.settings import nats_settings, postgres_settings

log = logging.getLogger("ebaysync.ops")

STREAMS: tuple[StreamConfig, ...] = (streams.WINDOWS, streams.PAGES, streams.DLQ)
CONSUMERS: tuple[tuple[str, ConsumerConfig], ...] = (
    (streams.WINDOWS_STREAM, streams.FETCHER),
    (streams.PAGES_STREAM, streams.WRITER),
)
BUCKETS: tuple[KeyValueConfig, ...] = (
    streams.BUCKETS.checkpoints,
    streams.BUCKETS.leases,
    streams.BUCKETS.control,
)


def stream_names() -> list[str]:
    """Every stream of the topology, KV buckets included (a bucket is stream ``KV_<name>``)."""
    return [str(s.name) for s in STREAMS] + [f"KV_{b.bucket}" for b in BUCKETS]


async def apply_topology(js: JetStreamContext, replicas: int) -> None:
    """Create or update the whole topology with ``replicas`` copies of every stream.

    Changing the replicas of an existing stream is online: JetStream adds (or drops) peers and
    the stream keeps serving. Consumers inherit the replicas of their stream.
    """
    for config in STREAMS:
        wanted = dataclasses.replace(config, num_replicas=replicas)
        try:
            await js.stream_info(str(config.name))
        except NotFoundError:
            await js.add_stream(wanted)
            log.info("created stream %s (R%d)", config.name, replicas)
            continue
        await js.update_stream(wanted)
    for stream, consumer in CONSUMERS:
        # Create-or-update on the server, unlike binding an existing durable.
        await js.add_consumer(stream, consumer)
    for bucket in BUCKETS:
        try:
            info = await js.stream_info(f"KV_{bucket.bucket}")
        except NotFoundError:
            await js.create_key_value(dataclasses.replace(bucket, replicas=replicas))
            log.info("created bucket %s (R%d)", bucket.bucket, replicas)
            continue
        info.config.max_age = bucket.ttl
        info.config.num_replicas = replicas
        await js.update_stream(info.config)


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
