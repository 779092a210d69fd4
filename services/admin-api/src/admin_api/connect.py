"""Connecting an eBay account by OAuth: the consent URL, then the callback.

The callback's ``state`` is a signed, expiring token naming a nonce stored at start; it is
consumed once. The code goes to the token service, which alone exchanges and stores tokens;
the token row needs its account, so a new account is created first (inactive) and completed
from Identity getUser: eBay says which user consented and where they are registered.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import NoReturn
from urllib.parse import urlencode

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.commands import BusError, request_access_token, request_connect
from admin_api.context import AdminContext
from admin_api.dependencies import after_commit
from admin_api.ebay import EbayUser, get_user
from admin_api.security import InvalidToken, issue_state, new_nonce, read_state
from common.db.accounts import AccountRepository, EbayAccount, User
from common.db.admin import OAuthState, OAuthStateRepository
from common.ebay.errors import EbayError
from common.ebay.marketplaces import site_id_for
from common.ebay.scopes import scopes_for
from common.environments import ENVIRONMENTS
from common.families import Purpose
from common.messages import ConnectAccount

log = logging.getLogger(__name__)


class ConnectError(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


async def start(
    context: AdminContext,
    session: AsyncSession,
    user: User,
    now: datetime,
    *,
    house_name: str | None,
    environment: str | None,
    purpose: Purpose = Purpose.BOTH,
    account: EbayAccount | None = None,
) -> tuple[str, datetime]:
    """Store a nonce and return eBay's consent URL with its signed state, and when it lapses.

    The consent goes to the chosen environment's keyset and asks for the purpose's scopes.
    """
    settings = context.settings
    environment = environment or settings.ebay_environment
    if environment not in connectable_environments(context):
        raise ConnectError(
            422,
            f"this deployment has no keyset for eBay {environment}: it connects to "
            f"{' and '.join(connectable_environments(context))}",
        )
    keyset = settings.environments.keyset(environment, settings.ebay)
    if house_name is not None and await AccountRepository(session).house_name_taken(
        user.org_id, house_name
    ):
        raise ConnectError(409, f"an active account is already called {house_name!r}")
    states = OAuthStateRepository(session)
    # Lapsed states are kept a day (a late callback then says "expired", not "unknown").
    await states.delete_expired(now - timedelta(days=1))
    nonce = new_nonce()
    expires_at = now + timedelta(seconds=settings.oauth_state_ttl_seconds)
    await states.add(
        OAuthState(
            nonce=nonce,
            org_id=user.org_id,
            user_id=user.id,
            account_id=account.id if account else None,
            house_name=house_name,
            environment=environment,
            purpose=purpose,
            created_at=now,
            expires_at=expires_at,
        )
    )
    query = urlencode(
        {
            "client_id": keyset.client_id,
            "redirect_uri": keyset.ru_name,
            "response_type": "code",
            "scope": scopes_for(purpose, push=settings.push.enabled),
            "state": issue_state(settings.jwt_secret, nonce, expires_at),
        }
    )
    return f"{keyset.auth_base_url}/oauth2/authorize?{query}", expires_at


def connectable_environments(context: AdminContext) -> list[str]:
    """The ``EBAY_*`` keyset's environment, and any with a keyset of its own."""
    settings = context.settings
    return [
        environment
        for environment in ENVIRONMENTS
        if environment == settings.ebay_environment
        or settings.environments.has_own_keyset(environment)
    ]


async def finish(
    context: AdminContext, session: AsyncSession, code: str, state: str, now: datetime
) -> EbayAccount:
    """Complete a connect from eBay's redirect; returns the connected account."""
    try:
        nonce = read_state(context.settings.jwt_secret, state)
    except InvalidToken as exc:
        raise ConnectError(400, f"the connect link is {exc}: start again") from exc
    started = await OAuthStateRepository(session).consume(nonce, now)
    await session.commit()  # a link is used once, even by a connect that then fails
    if started is None:
        raise ConnectError(400, "this connect link was already used or has expired")
    accounts = AccountRepository(session)
    if started.account_id is not None:
        account = await accounts.get_for_org(started.org_id, started.account_id)
        if account is None:
            raise ConnectError(404, "the account to reconnect no longer exists")
    else:
        account = await accounts.add(_provisional(started, now))
        # Before the token service is asked: it stores the tokens against this row.
        await session.commit()
    provisional = started.account_id is None
    ebay_user = await _exchange(
        context, session, account, code, Purpose(started.purpose), provisional=provisional
    )
    if started.account_id is not None:
        await _complete_reconnect(session, account, ebay_user)
    else:
        await _complete_new(session, account, started, ebay_user)
    after_commit(session, context.changes.notify)
    log.info("account %s connected (eBay user %s)", account.id, ebay_user.user_id)
    return account


def _provisional(started: OAuthState, now: datetime) -> EbayAccount:
    """Holds the tokens' foreign key until getUser says who it is; inactive until then."""
    return EbayAccount(
        org_id=started.org_id,
        ebay_user_id=f"pending:{started.nonce}",
        username="(connecting)",
        house_name=started.house_name or "(connecting)",
        marketplace_id="",
        site_id=0,
        environment=started.environment,
        purpose=started.purpose,
        active=False,
        created_at=now,
    )


async def _exchange(
    context: AdminContext,
    session: AsyncSession,
    account: EbayAccount,
    code: str,
    purpose: Purpose,
    *,
    provisional: bool,
) -> EbayUser:
    settings = context.settings
    timeout = settings.token_request_timeout_seconds
    try:
        reply = await request_connect(
            context.broker,
            ConnectAccount(
                account_id=account.id,
                authorization_code=SecretStr(code),
                scopes=scopes_for(purpose, push=settings.push.enabled),
            ),
            timeout,
        )
    except BusError as exc:
        await _drop_if_provisional(session, account, provisional)
        raise ConnectError(503, str(exc)) from exc
    if not reply.connected:
        await _drop_if_provisional(session, account, provisional)
        raise ConnectError(400, f"eBay refused the authorization: {reply.error_detail}")
    try:
        token = await request_access_token(context.broker, account.id, timeout)
        if token.access_token is None:
            raise ConnectError(502, f"no access token after connecting: {token.error_detail}")
        keyset = settings.environments.keyset(account.environment, settings.ebay)
        return await get_user(context.http, keyset.apiz_base_url, token.access_token)
    except (BusError, EbayError) as exc:
        raise ConnectError(502, f"connected, but eBay's user could not be read: {exc}") from exc


async def _drop_if_provisional(
    session: AsyncSession, account: EbayAccount, provisional: bool
) -> None:
    # No tokens were stored, so nothing refers to the placeholder: it goes.
    if provisional:
        await session.delete(account)
        await session.commit()  # the connect fails next (it raises), the placeholder stays gone


async def _refuse_grant(session: AsyncSession, account: EbayAccount, detail: str) -> NoReturn:
    """Refuse the connect (409), the account holding the grant marked as needing reauth."""
    account.needs_reauth = True
    await session.commit()  # kept although the connect fails
    raise ConnectError(409, detail)


async def _complete_new(
    session: AsyncSession, account: EbayAccount, started: OAuthState, ebay_user: EbayUser
) -> None:
    accounts = AccountRepository(session)
    existing = await accounts.find_by_ebay_user(
        started.org_id, started.environment, ebay_user.user_id
    )
    if existing is not None:
        # Its grant now sits on the placeholder, which never syncs.
        await _refuse_grant(
            session,
            account,
            f"eBay user {ebay_user.username} is already account {existing.id} "
            f"({existing.house_name}): use Reconnect on it",
        )
    house_name = started.house_name or ebay_user.username
    if await accounts.house_name_taken(started.org_id, house_name, exclude_id=account.id):
        house_name = f"{house_name} ({ebay_user.username})"
    _apply(account, ebay_user)
    account.house_name = house_name
    account.active = True


async def _complete_reconnect(
    session: AsyncSession, account: EbayAccount, ebay_user: EbayUser
) -> None:
    if ebay_user.user_id != account.ebay_user_id:
        # The new grant belongs to someone else: never sync this account with it.
        await _refuse_grant(
            session,
            account,
            f"you consented as eBay user {ebay_user.username}, but account {account.id} is "
            f"{account.username}: sign in to eBay as {account.username} and reconnect",
        )
    if not account.active and await AccountRepository(session).house_name_taken(
        account.org_id, account.house_name, exclude_id=account.id
    ):
        raise ConnectError(409, f"an active account is already called {account.house_name!r}")
    _apply(account, ebay_user)
    account.active = True
    account.deactivated_at = None
    account.needs_reauth = False
    account.revoked_at = None


def _apply(account: EbayAccount, ebay_user: EbayUser) -> None:
    account.ebay_user_id = ebay_user.user_id
    account.username = ebay_user.username
    account.marketplace_id = ebay_user.marketplace_id
    site_id = site_id_for(ebay_user.marketplace_id)
    if site_id is None:
        log.warning("no site id known for %s; using 0", ebay_user.marketplace_id)
    account.site_id = site_id or 0
