"""The request's unit of work (``admin_api.dependencies.get_session``): a route's writes are
committed once, before the answer is sent, and only then are the after-commit callbacks run; a
route that raises leaves nothing behind and runs none. Real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.dependencies import SessionDep, after_commit

pytestmark = [pytest.mark.postgres]

TABLE = "uow_probe"


@pytest.fixture
async def probe(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    async with sessions.begin() as session:
        await session.execute(text(f"CREATE TABLE {TABLE} (name text PRIMARY KEY)"))
    yield
    async with sessions.begin() as session:
        await session.execute(text(f"DROP TABLE {TABLE}"))


def _app(sessions: async_sessionmaker[AsyncSession], seen: list[str]) -> FastAPI:
    app = FastAPI()
    app.state.sessions = sessions

    async def insert(session: AsyncSession, name: str) -> None:
        await session.execute(text(f"INSERT INTO {TABLE} VALUES (:name)"), {"name": name})

    @app.post("/ok/{name}")
    async def ok(name: str, session: SessionDep) -> dict[str, bool]:
        await insert(session, name)

        def committed() -> None:
            seen.append(name)

        after_commit(session, committed)
        return {"callback_ran": name in seen}

    @app.post("/fail/{name}")
    async def fail(name: str, session: SessionDep) -> None:
        await insert(session, name)
        after_commit(session, lambda: seen.append(name))
        raise HTTPException(409, "refused")

    return app


async def _names(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(text(f"SELECT name FROM {TABLE} ORDER BY name"))
        return list(rows)


async def _post(
    sessions: async_sessionmaker[AsyncSession], seen: list[str], path: str
) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(sessions, seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        return await client.post(path)


async def test_a_route_that_returns_is_committed_then_its_callbacks_run(
    sessions: async_sessionmaker[AsyncSession], probe: None
) -> None:
    seen: list[str] = []
    answer = await _post(sessions, seen, "/ok/first")
    assert answer.status_code == 200
    assert answer.json() == {"callback_ran": False}  # not before the commit
    assert await _names(sessions) == ["first"]  # committed: another session reads it
    assert seen == ["first"]


async def test_a_route_that_raises_is_rolled_back_and_runs_no_callback(
    sessions: async_sessionmaker[AsyncSession], probe: None
) -> None:
    seen: list[str] = []
    answer = await _post(sessions, seen, "/fail/second")
    assert answer.status_code == 409
    assert await _names(sessions) == []
    assert seen == []
