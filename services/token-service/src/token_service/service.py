"""Hands out access tokens, keeps them fresh, and stores OAuth grants, encrypted.

Refreshes are single flight per account across replicas: a refresh happens only while holding
the account's ``ebay_tokens`` row lock (``SELECT … FOR UPDATE``), and whoever gets the lock
re-reads the row first, so a caller that waited behind another replica's refresh gets that
refresh's token instead of refreshing again. Within a replica a lock per account keeps waiters
off the database. A forced refresh (a fetcher's 401) names the token eBay refused by its
fingerprint: when the stored token is already another one, that one is the answer.

A background sweep refreshes tokens ahead of expiry, so fetchers rarely wait on eBay, and warns
(log and metric) about sellers whose consent ends soon.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import AccountRepository, EbayAccount
from common.db.tokens import EbayToken, StoredTokens, TokenRepository
from common.messages import (
    AccessTokenReply,
    ConnectAccount,
    ConnectAccountReply,
    GetAccessToken,
    TokenErrorCode,
    token_fingerprint,
)
from common.metrics import CONSENT_ENDING, TOKEN_REFRESHES
from token_service.crypto import KeyRing, TokenDecryptionError
from token_service.domain import (
    CONSENT_WARNING_EVERY,
    already_replaced,
    consent_ending_message,
    needs_refresh,
    refresh_reason,
    sweep_horizon,
)
from token_service.oauth import OAuthClient, OAuthError

log = logging.getLogger(__name__)

ACCESS = "access_token"
REFRESH = "refresh_token"
SWEEP = "sweep"


@dataclass(frozen=True)
class SweepReport:
    due: int = 0
    refreshed: int = 0
    failed: int = 0
    # Refreshed meanwhile by a caller or another replica, or being refreshed right now.
    skipped: int = 0
    # Accounts named in a consent-ending warning by this sweep.
    consent_warnings: int = 0

    def summary(self) -> str:
        return (
            f"{self.refreshed} of {self.due} due tokens refreshed, {self.failed} failed, "
            f"{self.skipped} skipped, {self.consent_warnings} consent warnings"
        )


class TokenService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: KeyRing,
        oauth: OAuthClient,
        *,
        scopes: str,
        refresh_ahead: timedelta,
        sweep_interval: timedelta,
        consent_warning: timedelta,
        clock: Callable[[], datetime],
        oauth_for: Callable[[str], OAuthClient] | None = None,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._oauth = oauth
        # The token endpoint and keyset of an account's environment; by default ``oauth``'s.
        self._oauth_for = oauth_for or (lambda _environment: oauth)
        self._scopes = scopes
        self._refresh_ahead = refresh_ahead
        self._sweep_horizon = sweep_horizon(refresh_ahead, sweep_interval)
        self._consent_warning = consent_warning
        self._clock = clock
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def get_access_token(self, request: GetAccessToken) -> AccessTokenReply:
        # Most requests find a valid token: answer those from a plain read, without any lock.
        async with self._sessions.begin() as session:
            reply = await self._answer(session, request, may_refresh=False)
        if reply is not None:
            return reply
        async with self._locks[request.account_id], self._sessions.begin() as session:
            reply = await self._answer(session, request, may_refresh=True)
        assert reply is not None  # with may_refresh, every path answers
        return reply

    async def _answer(
        self, session: AsyncSession, request: GetAccessToken, *, may_refresh: bool
    ) -> AccessTokenReply | None:
        """The stored token if it serves the request; else, with ``may_refresh``, a refreshed
        one under the row lock (the single flight), or None without."""
        account_id = request.account_id
        tokens = TokenRepository(session)
        # Lock the token row before reading the account: a replica that marks it needs_reauth
        # does so in its refresh transaction, which has committed once the lock is ours.
        stored = await (tokens.lock(account_id) if may_refresh else tokens.get(account_id))
        account = await AccountRepository(session).get(account_id)
        if account is None or stored is None:
            return _error(account_id, TokenErrorCode.UNKNOWN_ACCOUNT, "no tokens stored")
        if account.needs_reauth:
            return _error(account_id, TokenErrorCode.NEEDS_REAUTH, "seller must reconnect")
        now = self._clock()
        current = self._current_access_token(stored)
        forced = request.force_refresh and not already_replaced(
            None if current is None else token_fingerprint(current), request.rejected_token_sha256
        )
        if current is not None and not needs_refresh(
            stored.access_token_expires_at, now, self._refresh_ahead, forced=forced
        ):
            reply = AccessTokenReply(
                account_id=account_id,
                access_token=current,
                expires_at=stored.access_token_expires_at,
            )
        elif not may_refresh:
            return None
        else:
            reason = refresh_reason(stored.access_token_expires_at, now, forced=forced)
            reply = await self._refresh(session, stored, now, reason, account.environment)
        return _with_account(reply, account)

    async def connect(self, request: ConnectAccount) -> ConnectAccountReply:
        account_id = request.account_id
        now = self._clock()
        async with self._sessions() as session:
            account = await AccountRepository(session).get(account_id)
        if account is None:
            return ConnectAccountReply(
                account_id=account_id, connected=False, error_detail="unknown account"
            )
        async with self._locks[account_id]:
            try:
                grant = await self._oauth_for(account.environment).exchange_code(
                    request.authorization_code, now
                )
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
                        # A refresh may ask only for what was granted (else invalid_scope).
                        scopes=grant.scope or request.scopes or self._scopes,
                        granted_scopes=grant.scope,
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

    # --- the background sweep -------------------------------------------------------------

    async def sweep(self) -> SweepReport:
        """Refresh every token that would enter the refresh-ahead margin before the next sweep,
        then warn about consents ending soon. Several replicas may sweep at once: each account
        is refreshed under its row lock, skipped if another holds it, and re-checked first."""
        now = self._clock()
        async with self._sessions() as session:
            due = await TokenRepository(session).due_for_refresh(now + self._sweep_horizon)
        outcomes: defaultdict[str, int] = defaultdict(int)
        for account_id in due:
            try:
                outcomes[await self._sweep_account(account_id)] += 1
            except TokenDecryptionError:
                outcomes["failed"] += 1  # logged by _decrypt; other accounts still get theirs
        warned = await self.warn_consent_ending()
        report = SweepReport(
            due=len(due),
            refreshed=outcomes["refreshed"],
            failed=outcomes["failed"],
            skipped=outcomes["skipped"],
            consent_warnings=warned,
        )
        if report.due:
            log.info(
                "sweep: %s of %s due tokens refreshed, %s failed, %s skipped",
                report.refreshed,
                report.due,
                report.failed,
                report.skipped,
            )
        return report

    async def _sweep_account(self, account_id: int) -> str:
        async with self._locks[account_id], self._sessions.begin() as session:
            # Skip a row another replica holds: it is refreshing it right now.
            stored = await TokenRepository(session).lock(account_id, skip_locked=True)
            account = await AccountRepository(session).get(account_id)
            if stored is None or account is None or not account.active or account.needs_reauth:
                return "skipped"
            now = self._clock()
            if not needs_refresh(
                stored.access_token_expires_at, now, self._sweep_horizon, forced=False
            ):
                return "skipped"  # refreshed since the sweep listed it
            reply = await self._refresh(session, stored, now, SWEEP, account.environment)
            return "failed" if reply.access_token is None else "refreshed"

    async def warn_consent_ending(self) -> int:
        """Log a warning for each account whose refresh token expires within the warning
        horizon (at most once a day per account, across replicas); set the gauge."""
        now = self._clock()
        horizon = now + self._consent_warning
        async with self._sessions.begin() as session:
            tokens = TokenRepository(session)
            ending = await tokens.claim_expiry_warnings(horizon, now - CONSENT_WARNING_EVERY, now)
            CONSENT_ENDING.set(await tokens.count_consent_ending(horizon))
        for account_id, expires_at in ending:
            log.warning("%s", consent_ending_message(account_id, expires_at, now))
        return len(ending)

    # --- refreshing -----------------------------------------------------------------------

    async def _refresh(
        self, session: AsyncSession, stored: EbayToken, now: datetime, reason: str, environment: str
    ) -> AccessTokenReply:
        """Refresh at eBay and store the result; the caller holds the row lock."""
        account_id = stored.account_id
        tokens = TokenRepository(session)
        refresh_token = self._decrypt(stored, stored.refresh_token_ciphertext, REFRESH)
        try:
            grant = await self._oauth_for(environment).refresh(refresh_token, stored.scopes, now)
        except OAuthError as exc:
            outcome = "invalid_grant" if exc.is_invalid_grant else "error"
            TOKEN_REFRESHES.labels(reason, outcome).inc()
            await tokens.log_refresh(account_id, now, reason, outcome, exc.error)
            await tokens.record_refresh_error(account_id, exc.error, now, exc.capture)
            if exc.is_invalid_grant:
                # Retrying cannot help: the seller must consent again. The scheduler skips the
                # account and fetchers drop its windows until it reconnects.
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
                scopes=grant.scope or stored.scopes,
                granted_scopes=grant.scope or stored.granted_scopes,
            ),
            now,
        )
        await tokens.log_refresh(account_id, now, reason, "ok")
        TOKEN_REFRESHES.labels(reason, "ok").inc()
        log.info("refreshed access token of account %s (%s)", account_id, reason)
        return AccessTokenReply(
            account_id=account_id, access_token=grant.access_token, expires_at=grant.expires_at
        )

    def _current_access_token(self, stored: EbayToken) -> SecretStr | None:
        if stored.access_token_ciphertext is None:
            return None
        return self._decrypt(stored, stored.access_token_ciphertext, ACCESS)

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


def _with_account(reply: AccessTokenReply, account: EbayAccount) -> AccessTokenReply:
    if reply.access_token is None:
        return reply
    return reply.model_copy(
        update={
            "marketplace_id": account.marketplace_id,
            "site_id": account.site_id,
            "environment": account.environment,
        }
    )


def _error(account_id: int, code: TokenErrorCode, detail: str) -> AccessTokenReply:
    return AccessTokenReply(account_id=account_id, error=code, error_detail=detail)
