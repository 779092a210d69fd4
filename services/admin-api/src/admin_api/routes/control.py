"""Pause: while on, the scheduler sends no new windows (running ones finish).

An org's admin pauses that org's accounts; only a superadmin (``ADMIN_API_SUPERADMIN_EMAILS``)
switches the platform-wide pause, which stops every org.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from admin_api.context import AdminContext
from admin_api.dependencies import AdminUser, ContextDep, CurrentUser
from admin_api.runner import pause_all
from admin_api.schemas import PauseIn, PauseOut

router = APIRouter(prefix="/api/control", tags=["control"])


async def _state(context: AdminContext, org_id: int) -> PauseOut:
    switch = await pause_all(context)
    platform, org = await switch.is_on(), org_id in await switch.paused_orgs()
    return PauseOut(paused=platform or org, org=org, platform=platform)


@router.get("/pause")
async def get_pause(user: CurrentUser, context: ContextDep) -> PauseOut:
    return await _state(context, user.org_id)


@router.put("/pause", responses={403: {"description": "The platform scope needs a superadmin"}})
async def set_pause(body: PauseIn, admin: AdminUser, context: ContextDep) -> PauseOut:
    switch = await pause_all(context)
    if body.scope == "platform":
        if not context.settings.is_superadmin(admin.email):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "only a superadmin switches the platform-wide pause"
            )
        await switch.set(body.paused)
    else:
        await switch.set_org(admin.org_id, body.paused)
    context.changes.notify()
    return await _state(context, admin.org_id)
