"""Settings of the writer."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.breaker import BreakerField, BreakerSettings
from common.service import ServiceBaseSettings
from common.settings import PostgresField, PostgresSettings


class WriterSettings(ServiceBaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WRITER_", env_nested_delimiter="__", extra="ignore"
    )

    database: PostgresSettings = PostgresField

    # Pages written at once by one replica; each holds one database connection while it writes.
    concurrency: int = 4
    # How far past "now" a page's window_to or a record's version may lie before the page is
    # dead-lettered: clocks disagree a little, a date years ahead is forged (docs/adr/0008).
    future_skew_seconds: float = 300.0
    # "Now" for that bound: the deployment's clock when it is not the machine's (the eBay
    # sandbox's under `ebaysync up`, as the scheduler's SCHEDULER_CLOCK_URL).
    clock_url: str | None = None
    # When failures in a row pause a worker, and for how long (the writer records failures).
    breaker: BreakerSettings = BreakerField
