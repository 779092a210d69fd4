"""Users of the caller's org (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlalchemy.exc import IntegrityError

from admin_api.dependencies import MAX_ID, AdminUser, SessionDep, SettingsDep, validation_error
from admin_api.passwords import password_problem
from admin_api.schemas import UserIn, UserOut, UserPatch
from admin_api.security import hash_password_async
from common.db.accounts import User
from common.db.admin import UserRepository

router = APIRouter(prefix="/api/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]

# Emails are unique across orgs; saying "taken" would tell one org's admin who uses another
# org. A taken email reads like any other invalid value, whoever has it.
EMAIL_UNUSABLE = "cannot be used for a new user: choose another email"


@router.get("")
async def list_users(admin: AdminUser, session: SessionDep) -> list[UserOut]:
    users = await UserRepository(session).list_for_org(admin.org_id)
    return [UserOut.model_validate(u) for u in users]


def check_password(password: str, settings: SettingsDep, *user_inputs: str) -> None:
    if problem := password_problem(password, user_inputs, settings.password_min_score):
        raise validation_error("password", f"password {problem}")


@router.post("", status_code=status.HTTP_201_CREATED, responses={422: {}})
async def create_user(
    body: UserIn, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> UserOut:
    check_password(body.password, settings, body.email)
    users = UserRepository(session)
    if await users.by_email(body.email) is not None:
        raise validation_error("email", EMAIL_UNUSABLE)
    user = User(
        org_id=admin.org_id,
        email=body.email,
        password_hash=await hash_password_async(body.password),
        role=str(body.role),
    )
    try:
        await users.add(user)
        await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same email
        raise validation_error("email", EMAIL_UNUSABLE) from exc
    return UserOut.model_validate(user)


@router.patch("/{user_id}", responses={404: {}, 409: {}, 422: {}})
async def update_user(
    user_id: UserId, body: UserPatch, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> UserOut:
    """Change a user's role, deactivate or reactivate them, or set a new password (which
    signs them out everywhere: their earlier tokens are revoked)."""
    user = await UserRepository(session).get(user_id)
    if user is None or user.org_id != admin.org_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} not found")
    if user.id == admin.id and (body.active is False or body.role not in (None, "admin")):
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot demote or deactivate yourself")
    if body.password is not None:
        check_password(body.password, settings, user.email)
    if body.role is not None:
        user.role = str(body.role)
    if body.active is not None:
        user.active = body.active
    if body.password is not None:
        user.password_hash = await hash_password_async(body.password)
        user.token_version += 1
    return UserOut.model_validate(user)
