"""What routes receive: the caller (authenticated, with a role), their org's objects, a session
per request, the broker, the clock and the process-wide context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.context import AdminContext
from admin_api.security import InvalidToken, Role, read_login_token
from admin_api.settings import AdminApiSettings
from common.clock import utc_now
from common.db.accounts import AccountRepository, EbayAccount, User
from common.db.admin import UserRepository

# Ids are PostgreSQL bigints: anything larger cannot name a row.
MAX_ID = 2**63 - 1


def get_context(request: Request) -> AdminContext:
    context: AdminContext = request.app.state.context
    return context


ContextDep = Annotated[AdminContext, Depends(get_context)]


def get_settings(context: ContextDep) -> AdminApiSettings:
    return context.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: one transaction, committed once when the route returns and
    before the response is sent (``scope="function"`` below), so a client never reads back less
    than it was answered; rolled back when the route raises. Routes do not commit: what must
    follow the commit (waking the live views, which read the change back) is queued with
    :func:`after_commit`. The few commits left in routes are where a write must be durable
    before something else happens (a publish, a failed request's record); each says why."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session
        await session.commit()
        for callback in session.info.pop(_AFTER_COMMIT, []):
            callback()


_AFTER_COMMIT = "admin_api.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's unit of work has committed (not if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def get_broker(request: Request) -> NatsBroker:
    broker: NatsBroker = request.app.state.broker
    return broker


SettingsDep = Annotated[AdminApiSettings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
BrokerDep = Annotated[NatsBroker, Depends(get_broker)]
NowDep = Annotated[datetime, Depends(utc_now)]

_bearer = HTTPBearer(auto_error=False, description="The access_token from POST /api/auth/login")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_user(
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller, from their bearer token; role and activity as the database has them now.

    Uses its own short session, so a long response (live updates) holds no connection.
    """
    if credentials is None:
        raise _unauthorized("sign in first: send Authorization: Bearer <token>")
    try:
        claims = read_login_token(context.settings.jwt_secret, credentials.credentials)
    except InvalidToken as exc:
        raise _unauthorized(f"token {exc}: sign in again") from exc
    async with context.sessions() as session:
        user = await UserRepository(session).get(claims.user_id)
    if user is None or not user.active or user.org_id != claims.org_id:
        raise _unauthorized("user unknown or deactivated")
    if claims.version != user.token_version:
        raise _unauthorized("token revoked (signed out or password changed): sign in again")
    return user


def client_address(request: Request) -> str:
    """The caller's address as the server saw it (behind a proxy, run uvicorn with
    ``--proxy-headers`` and ``--forwarded-allow-ips`` so this is the client's, not the
    proxy's)."""
    return request.client.host if request.client else "unknown"


def validation_error(field: str, message: str) -> RequestValidationError:
    """A 422 shaped exactly like the body validation FastAPI does itself."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", field), "msg": message, "input": None}]
    )


def require(role: Role) -> Callable[[User], Awaitable[User]]:
    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if not Role(user.role).allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role")
        return user

    return check


CurrentUser = Annotated[User, Depends(current_user)]
OperatorUser = Annotated[User, Depends(require(Role.OPERATOR))]
AdminUser = Annotated[User, Depends(require(Role.ADMIN))]

AccountId = Annotated[int, Path(ge=1, le=MAX_ID, description="An account of your org")]


async def org_account(account_id: AccountId, user: CurrentUser, session: SessionDep) -> EbayAccount:
    """The account, if it is the caller's org's; another org's account does not exist (404)."""
    account = await AccountRepository(session).get_for_org(user.org_id, account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"account {account_id} not found")
    return account


AccountDep = Annotated[EbayAccount, Depends(org_account)]
