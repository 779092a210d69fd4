"""Sign-in: email and password for a bearer token; who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, status

from admin_api.dependencies import CurrentUser, NowDep, SessionDep, SettingsDep
from admin_api.schemas import LoginIn, LoginOut, MeOut, UserOut
from admin_api.security import issue_login_token, verify_password
from common.db.accounts import AccountRepository, User
from common.db.admin import UserRepository

router = APIRouter(prefix="/api/auth", tags=["auth"])


async def me_of(session: SessionDep, user: User) -> MeOut:
    org = await AccountRepository(session).get_org(user.org_id)
    return MeOut(**UserOut.model_validate(user).model_dump(), org_name=org.name if org else "")


@router.post("/login", responses={401: {"description": "Wrong email or password"}})
async def login(body: LoginIn, session: SessionDep, settings: SettingsDep, now: NowDep) -> LoginOut:
    """Exchange email and password for a bearer token (send it as ``Authorization: Bearer``)."""
    user = await UserRepository(session).by_email(body.email)
    valid = await verify_password(user.password_hash if user else None, body.password)
    if user is None or not valid or not user.active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong email or password")
    ttl = timedelta(seconds=settings.jwt_ttl_seconds)
    return LoginOut(
        access_token=issue_login_token(settings.jwt_secret, user.id, user.org_id, now, ttl),
        expires_at=now + ttl,
        user=await me_of(session, user),
    )


@router.get("/me")
async def me(user: CurrentUser, session: SessionDep) -> MeOut:
    return await me_of(session, user)
