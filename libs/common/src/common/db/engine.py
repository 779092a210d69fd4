"""The async engine and session factory; one of each per process."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from common.settings import PostgresSettings


def build_engine(settings: PostgresSettings, *, pre_ping: bool = True) -> AsyncEngine:
    """``pre_ping``: test each connection with a round trip when it leaves the pool, so one
    that died with a database restart is replaced unseen. Without it such a connection fails
    its first statement once, and the pool then replaces every connection of before: for a
    caller that retries anyway (the writer's pages go back to JetStream), one round trip per
    transaction saved."""
    return create_async_engine(
        settings.url.get_secret_value(),
        pool_size=settings.pool_size,
        pool_pre_ping=pre_ping,
        echo=settings.echo,
    )


def build_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
