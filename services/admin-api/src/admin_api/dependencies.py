"""What routes receive: a database session per request and the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


def get_broker(request: Request) -> NatsBroker:
    broker: NatsBroker = request.app.state.broker
    return broker


def utc_now() -> datetime:
    return datetime.now(UTC)


SessionDep = Annotated[AsyncSession, Depends(get_session)]
BrokerDep = Annotated[NatsBroker, Depends(get_broker)]
NowDep = Annotated[datetime, Depends(utc_now)]
