"""Sign-in (throttled), sign-out (revokes the user's tokens), who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, status

from admin_api.dependencies import CurrentUser, NowDep, SessionDep, SettingsDep, client_address
from admin_api.schemas import LoginIn, LoginOut, MeOut, UserOut
from admin_api.security import issue_login_token, verify_password
from admin_api.throttle import address_key, email_key, retry_after
from common.db.accounts import AccountRepository, User
from common.db.admin import LoginThrottleRepository, UserRepository

router = APIRouter(prefix="/api/auth", tags=["auth"])


async def me_of(session: SessionDep, user: User) -> MeOut:
    org = await AccountRepository(session).get_org(user.org_id)
    return MeOut(**UserOut.model_validate(user).model_dump(), org_name=org.name if org else "")


@router.post(
    "/login",
    responses={
        401: {"description": "Wrong email or password"},
        429: {"description": "Too many failed sign-ins for this email or address: Retry-After"},
    },
)
async def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep, now: NowDep
) -> LoginOut:
    """Exchange email and password for a bearer token (send it as ``Authorization: Bearer``).

    After ``ADMIN_API_LOGIN_MAX_FAILURES_PER_EMAIL`` failures for an email, or
    ``…_PER_ADDRESS`` from one client address, within the throttle window, every attempt is
    refused with 429 until the window ends.
    """
    by_email, by_address = email_key(body.email), address_key(client_address(request))
    limits = {
        by_email: settings.login_max_failures_per_email,
        by_address: settings.login_max_failures_per_address,
    }
    window = timedelta(seconds=settings.login_throttle_window_seconds)
    throttle = LoginThrottleRepository(session)
    wait = retry_after(await throttle.counts(list(limits)), limits, now, window)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed sign-ins: try again later",
            headers={"Retry-After": str(wait)},
        )
    user = await UserRepository(session).by_email(body.email)
    valid = await verify_password(user.password_hash if user else None, body.password)
    if user is None or not valid or not user.active:
        await throttle.record_failure(list(limits), now, now - window)
        await session.commit()  # the failure counts although the request fails (it raises)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong email or password")
    await throttle.clear(by_email)
    ttl = timedelta(seconds=settings.jwt_ttl_seconds)
    return LoginOut(
        access_token=issue_login_token(
            settings.jwt_secret, user.id, user.org_id, now, ttl, user.token_version
        ),
        expires_at=now + ttl,
        user=await me_of(session, user),
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: CurrentUser, session: SessionDep) -> None:
    """Sign out: revokes every token of this user (all their sessions), not only this one."""
    await UserRepository(session).bump_token_version(user.id)


@router.get("/me")
async def me(user: CurrentUser, session: SessionDep) -> MeOut:
    return await me_of(session, user)
