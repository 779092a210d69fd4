"""Liveness and readiness of this process, and the health of every service."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from admin_api.dependencies import BrokerDep, ContextDep, CurrentUser, NowDep, SessionDep
from admin_api.runner import paused_for
from admin_api.schemas import ConsumerOut, Health, HeartbeatOut, ServicesOut
from common.streams import FETCHER_DURABLE, PAGES_STREAM, WINDOWS_STREAM, WRITER_DURABLE

router = APIRouter(tags=["health"])

# The services that send heartbeats (``svc.heartbeat.<service>``).
SERVICES = ("scheduler", "token-service", "fetcher", "writer")
CONSUMERS = ((WINDOWS_STREAM, FETCHER_DURABLE), (PAGES_STREAM, WRITER_DURABLE))


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


@router.get("/api/services")
async def services(user: CurrentUser, context: ContextDep, now: NowDep) -> ServicesOut:
    """Each service instance's last heartbeat, the backlog of the fetcher and writer consumers,
    and whether pause-all is on."""
    seen = context.heartbeats.latest()
    stale_intervals = context.settings.heartbeat_stale_intervals
    beats = []
    for entry in seen:
        heartbeat = entry.heartbeat
        age = now - entry.received_at
        stale_after = timedelta(seconds=heartbeat.interval_seconds * stale_intervals)
        beats.append(
            HeartbeatOut(
                service=heartbeat.service,
                instance=heartbeat.instance,
                status="up" if age <= stale_after else "stale",
                last_seen_at=entry.received_at,
                age_seconds=age.total_seconds(),
                started_at=heartbeat.started_at,
            )
        )
    heard = {b.service for b in beats}
    beats += [
        HeartbeatOut(
            service=name,
            instance=None,
            status="missing",
            last_seen_at=None,
            age_seconds=None,
            started_at=None,
        )
        for name in SERVICES
        if name not in heard
    ]
    consumers = []
    for stream, durable in CONSUMERS:
        try:
            info = await context.js.consumer_info(stream, durable)
        except Exception as exc:  # a missing consumer is reported, not raised
            consumers.append(
                ConsumerOut(
                    stream=stream,
                    durable=durable,
                    num_pending=None,
                    num_ack_pending=None,
                    num_redelivered=None,
                    num_waiting=None,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
            continue
        consumers.append(
            ConsumerOut(
                stream=stream,
                durable=durable,
                num_pending=info.num_pending,
                num_ack_pending=info.num_ack_pending,
                num_redelivered=info.num_redelivered,
                num_waiting=info.num_waiting,
            )
        )
    paused = await paused_for(context, user.org_id)
    return ServicesOut(
        services=sorted(beats, key=lambda b: (b.service, b.instance or "")),
        consumers=consumers,
        paused=paused,
    )
