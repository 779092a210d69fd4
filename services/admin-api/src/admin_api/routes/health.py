"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from admin_api.dependencies import BrokerDep, SessionDep
from admin_api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Health}})
async def readyz(session: SessionDep, broker: BrokerDep, response: Response) -> Health:
    """The process can reach PostgreSQL and NATS."""
    checks: dict[str, str] = {}
    try:
        await session.execute(text("SELECT 1"))
        checks["postgres"] = "ok"
    except Exception as exc:  # readiness reports any failure instead of raising it
        checks["postgres"] = type(exc).__name__
    checks["nats"] = "ok" if await broker.ping(timeout=2.0) else "unreachable"
    ready = all(v == "ok" for v in checks.values())
    response.status_code = status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ready" if ready else "not ready", checks=checks)
