"""Pause-all: while on, the scheduler sends no new windows (running ones finish). It stops
every account of every org, so only admins switch it."""

from __future__ import annotations

from fastapi import APIRouter

from admin_api.dependencies import AdminUser, ContextDep, CurrentUser
from admin_api.runner import pause_all
from admin_api.schemas import PauseIn, PauseOut

router = APIRouter(prefix="/api/control", tags=["control"])


@router.get("/pause")
async def get_pause(user: CurrentUser, context: ContextDep) -> PauseOut:
    return PauseOut(paused=await (await pause_all(context)).is_on())


@router.put("/pause")
async def set_pause(body: PauseIn, admin: AdminUser, context: ContextDep) -> PauseOut:
    switch = await pause_all(context)
    await switch.set(body.paused)
    context.changes.notify()
    return PauseOut(paused=await switch.is_on())
