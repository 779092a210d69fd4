"""Root conftest: the test kit's database and NATS fixtures for every test directory."""

from testkit.fixtures import engine, js, migrated_database_url, nats_client, sessions

__all__ = ["engine", "js", "migrated_database_url", "nats_client", "sessions"]
