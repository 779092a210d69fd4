"""Root conftest: the test kit's database and NATS fixtures for every test directory."""

from testkit.fixtures import (
    broker,
    engine,
    js,
    migrated_database_url,
    nats_client,
    sessions,
    topology,
)

__all__ = [
    "broker",
    "engine",
    "js",
    "migrated_database_url",
    "nats_client",
    "sessions",
    "topology",
]
