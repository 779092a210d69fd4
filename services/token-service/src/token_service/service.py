"""Hands out access tokens and stores OAuth grants, encrypted.

Refreshes are single-flight per account within a replica (a lock per account), so a burst of
fetchers asking for the same expired token causes one refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository
from common.db.tokens import EbayToken, StoredTokens, TokenRepository
from common.messages import (
    AccessTokenReply,
    ConnectAccount,
    ConnectAccountReply,
    GetAccessToken,
    TokenErrorCode,
)
from common.metrics import TOKEN_REFRESHES
from token_service.crypto import KeyRing, TokenDecryptionError
from token_service.domain import needs_refresh, refresh_reason
from token_service.oauth import OAuthClient, OAuthError

log = logging.getLogger(__name__)

ACCESS = "access_token"
REFRESH = "refresh_token"


class TokenService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: KeyRing,
        oauth: OAuthClient,
        *,
        scopes: str,
        refresh_ahead: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._oauth = oauth
        self._scopes = scopes
        self._refresh_ahead = refresh_ahead
        self._clock = clock
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def get_access_token(self, request: GetAccessToken) -> AccessTokenReply:
        account_id = request.account_id
        async with self._locks[account_id], self._sessions.begin() as session:
            account = await AccountRepository(session).get(account_id)
            tokens = TokenRepository(session)
            stored = await tokens.get(account_id)
            if account is None or stored is None:
                return _error(account_id, TokenErrorCode.UNKNOWN_ACCOUNT, "no tokens stored")
            if account.needs_reauth:
                return _error(account_id, TokenErrorCode.NEEDS_REAUTH, "seller must reconnect")
            now = self._clock()
            if not needs_refresh(
                stored.access_token_expires_at,
                now,
                self._refresh_ahead,
                forced=request.force_refresh,
            ):
                assert stored.access_token_ciphertext is not None
                access = self._decrypt(stored, stored.access_token_ciphertext, ACCESS)
                reply = AccessTokenReply(
                    account_id=account_id,
                    access_token=access,
                    expires_at=stored.access_token_expires_at,
                )
            else:
                reply = await self._refresh(session, stored, now, forced=request.force_refresh)
            if reply.access_token is None:
                return reply
            return reply.model_copy(
                update={"marketplace_id": account.marketplace_id, "site_id": account.site_id}
            )

    async def connect(self, request: ConnectAccount) -> ConnectAccountReply:
        account_id = request.account_id
        now = self._clock()
        async with self._locks[account_id]:
            try:
                grant = await self._oauth.exchange_code(request.authorization_code, now)
            except OAuthError as exc:
                log.warning("code exchange for account %s failed: %s", account_id, exc.error)
                return ConnectAccountReply(
                    account_id=account_id, connected=False, error_detail=exc.error
                )
            async with self._sessions.begin() as session:
                await TokenRepository(session).save(
                    account_id,
                    StoredTokens(
                        key_id=self._keyring.active_key_id,
                        refresh_token_ciphertext=self._encrypt(
                            grant.refresh_token, account_id, REFRESH
                        ),
                        refresh_token_expires_at=grant.refresh_token_expires_at,
                        access_token_ciphertext=self._encrypt(
                            grant.access_token, account_id, ACCESS
                        ),
                        access_token_expires_at=grant.expires_at,
                        scopes=self._scopes,
                    ),
                    now,
                )
                await TokenRepository(session).log_refresh(account_id, now, "connect", "ok")
                await AccountRepository(session).mark_needs_reauth(account_id, False)
        log.info("account %s connected", account_id)
        return ConnectAccountReply(
            account_id=account_id,
            connected=True,
            refresh_token_expires_at=grant.refresh_token_expires_at,
        )

    async def _refresh(
        self, session: AsyncSession, stored: EbayToken, now: datetime, *, forced: bool
    ) -> AccessTokenReply:
        account_id = stored.account_id
        reason = refresh_reason(stored.access_token_expires_at, now, forced=forced)
        tokens = TokenRepository(session)
        refresh_token = self._decrypt(stored, stored.refresh_token_ciphertext, REFRESH)
        try:
            grant = await self._oauth.refresh(refresh_token, stored.scopes, now)
        except OAuthError as exc:
            TOKEN_REFRESHES.labels(
                reason, "invalid_grant" if exc.is_invalid_grant else "error"
            ).inc()
            await tokens.log_refresh(
                account_id,
                now,
                reason,
                "invalid_grant" if exc.is_invalid_grant else "error",
                exc.error,
            )
            await tokens.record_refresh_error(account_id, exc.error, now)
            if exc.is_invalid_grant:
                # Retrying cannot help: the seller must consent again.
                await AccountRepository(session).mark_needs_reauth(account_id, True)
                log.warning("account %s needs reauth: refresh token refused", account_id)
                return _error(account_id, TokenErrorCode.NEEDS_REAUTH, exc.error)
            log.warning("refresh for account %s failed: %s", account_id, exc)
            return _error(account_id, TokenErrorCode.REFRESH_FAILED, exc.error)
        # Re-encrypt the refresh token too, so a rotated active key takes over on first use.
        await tokens.save(
            account_id,
            StoredTokens(
                key_id=self._keyring.active_key_id,
                refresh_token_ciphertext=self._encrypt(refresh_token, account_id, REFRESH),
                refresh_token_expires_at=stored.refresh_token_expires_at,
                access_token_ciphertext=self._encrypt(grant.access_token, account_id, ACCESS),
                access_token_expires_at=grant.expires_at,
                scopes=stored.scopes,
            ),
            now,
        )
        await tokens.log_refresh(account_id, now, reason, "ok")
        TOKEN_REFRESHES.labels(reason, "ok").inc()
        log.info("refreshed access token of account %s (%s)", account_id, reason)
        return AccessTokenReply(
            account_id=account_id, access_token=grant.access_token, expires_at=grant.expires_at
        )

    def _encrypt(self, secret: SecretStr, account_id: int, purpose: str) -> bytes:
        return self._keyring.encrypt(
            secret.get_secret_value(), account_id=account_id, purpose=purpose
        )

    def _decrypt(self, stored: EbayToken, ciphertext: bytes, purpose: str) -> SecretStr:
        try:
            return self._keyring.decrypt(
                ciphertext, key_id=stored.key_id, account_id=stored.account_id, purpose=purpose
            )
        except TokenDecryptionError:
            log.error("token of account %s does not decrypt: check the key ring", stored.account_id)
            raise


def _error(account_id: int, code: TokenErrorCode, detail: str) -> AccessTokenReply:
    return AccessTokenReply(account_id=account_id, error=code, error_detail=detail)
