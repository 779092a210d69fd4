"""The account health check: Identity ``getUser`` per active account, on a schedule.

It runs here because the token service holds the tokens: it asks itself for each account's
access token (refreshing it when due, as for any caller), calls eBay's ``getUser`` with it, and
records what happened in ``ebay_health_events``: whether the account answered, the HTTP status
or error, the latency and the eBay username behind the token (a token that now answers for
another user is a wrong connection). Each call is counted in the fetchers' daily call ledger
(``common.ledger``, API ``other``), so the checks are charged to the same budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.ops import HealthCheck, HealthRepository
from common.db.tokens import EbayToken
from common.ledger import CallLedger, calls_for
from common.messages import GetAccessToken
from token_service.crypto import TokenDecryptionError
from token_service.service import TokenService

log = logging.getLogger(__name__)

GET_USER_PATH = "/commerce/identity/v1/user/"


@dataclass(frozen=True)
class HealthReport:
    checked: int
    ok: int

    def summary(self) -> str:
        return f"{self.ok} of {self.checked} accounts healthy"


def error_text(response: httpx.Response) -> str:
    """eBay's error id and message (``errors[0]``), else the reason phrase."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f"{first.get('errorId')}: {first.get('message') or first.get('longMessage')}"
    except (ValueError, AttributeError, IndexError, TypeError):
        return response.reason_phrase or f"HTTP {response.status_code}"


class HealthChecker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tokens: TokenService,
        http: httpx.AsyncClient,
        apiz_base_url: str,
        ledger: CallLedger | None,
        clock: Callable[[], datetime],
    ) -> None:
        # ``http`` counts its requests for the ledger (a CallCounter event hook).
        self._sessions = sessions
        self._tokens = tokens
        self._http = http
        self._url = f"{apiz_base_url}{GET_USER_PATH}"
        self._ledger = ledger
        self._clock = clock

    async def check_all(self) -> str:
        async with self._sessions() as session:
            accounts = list(
                await session.scalars(
                    select(EbayAccount.id)
                    .join(EbayToken, EbayToken.account_id == EbayAccount.id)
                    .where(EbayAccount.active)
                    .order_by(EbayAccount.id)
                )
            )
        ok = 0
        try:
            for account_id in accounts:
                ok += (await self.check(account_id)).ok
        finally:
            if self._ledger is not None:
                await self._ledger.flush()
        return HealthReport(len(accounts), ok).summary()

    async def check(self, account_id: int) -> HealthCheck:
        result = await self._call(account_id)
        async with self._sessions.begin() as session:
            await HealthRepository(session).record(result)
        if not result.ok:
            log.warning(
                "health check of account %s failed: %s (HTTP %s)",
                account_id,
                result.error,
                result.http_status,
            )
        return result

    async def _call(self, account_id: int) -> HealthCheck:
        now = self._clock()
        try:
            reply = await self._tokens.get_access_token(GetAccessToken(account_id=account_id))
        except TokenDecryptionError:  # logged by the token service; the other accounts go on
            return HealthCheck(account_id, now, False, None, "token does not decrypt", None, None)
        if reply.access_token is None:
            # No call to eBay: the account cannot get a token (needs reauth, refresh failing).
            error = f"no access token: {reply.error}: {reply.error_detail}"
            return HealthCheck(account_id, now, False, None, error, None, None)
        started = time.monotonic()
        try:
            with calls_for(account_id):
                response = await self._http.get(
                    self._url,
                    headers={"Authorization": f"Bearer {reply.access_token.get_secret_value()}"},
                )
        except httpx.HTTPError as exc:
            latency = int((time.monotonic() - started) * 1000)
            error = f"{type(exc).__name__}: eBay unreachable"
            return HealthCheck(account_id, now, False, None, error, latency, None)
        latency = int((time.monotonic() - started) * 1000)
        if response.status_code != 200:
            return HealthCheck(
                account_id, now, False, response.status_code, error_text(response), latency, None
            )
        try:
            username = str(response.json()["username"])
        except (ValueError, KeyError, TypeError):
            error = "unreadable getUser body"
            return HealthCheck(account_id, now, False, 200, error, latency, None)
        return HealthCheck(account_id, now, True, 200, None, latency, username)
