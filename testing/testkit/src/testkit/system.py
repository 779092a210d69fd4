"""The whole system as `ebaysync up` runs it, for end-to-end tests: the runtime started with the
test's options, sessions on its database and a client of its sandbox, all stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from common.db.accounts import EbayAccount
from ebaysync.runtime import Runtime, RuntimeOptions


@dataclass
class RunningSystem:
    runtime: Runtime
    sessions: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    admin_url: str

    async def only_account(self) -> EbayAccount:
        """The one eBay account of a runtime started with one seller."""
        async with self.sessions() as session:
            return (await session.scalars(select(EbayAccount))).one()


@asynccontextmanager
async def running_system(
    options: RuntimeOptions, *, sandbox_timeout: float = 30
) -> AsyncIterator[RunningSystem]:
    runtime = Runtime(options)
    info = await runtime.start()
    engine = create_async_engine(info.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with httpx.AsyncClient(base_url=info.sandbox_url, timeout=sandbox_timeout) as sandbox:
            yield RunningSystem(runtime, sessions, sandbox, info.admin_url)
    finally:
        await runtime.stop()
        await engine.dispose()


@asynccontextmanager
async def started_runtime(options: RuntimeOptions) -> AsyncIterator[Runtime]:
    """A runtime the test drives itself (restarting its servers, stopping its children)."""
    runtime = Runtime(options)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
