"""Access tokens from the token service, over NATS request/reply, kept in memory a while.

A fetcher keeps each account's access token (never its refresh token, never a key: those stay
in the token service) and asks the token service again only when the token nears its expiry,
after eBay refused it (401), or after ``max_age`` at the latest. The last bound is how a
revocation that eBay does not enforce itself reaches a fetcher: the token service then answers
``needs_reauth`` or ``unknown_account`` (its rows deleted), and an error is never cached. A
seller's revocation at eBay also revokes the access tokens, so the next call gets a 401 and the
token is dropped at once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from faststream.nats import NatsBroker
from pydantic import SecretStr

from common.ebay.errors import EbayTransientError
from common.ebay.signing import SigningKey
from common.messages import (
    AccessTokenReply,
    GetAccessToken,
    GetSigningKey,
    SigningKeyReply,
    TokenErrorCode,
    token_fingerprint,
)


@dataclass(frozen=True)
class AccountToken:
    """An access token and where the account sells, as the token service tells it."""

    token: SecretStr
    marketplace_id: str
    site_id: int
    # Its eBay environment: which hosts its calls go to (None: the EBAY_* ones).
    environment: str | None = None
    # When eBay stops accepting it (None: the token service did not say).
    expires_at: datetime | None = None


@dataclass(frozen=True)
class TokenCachePolicy:
    """How long a fetcher keeps an account's access token (``FetcherSettings.token_cache``)."""

    # Ask again this long before the token expires: no call starts with a token about to die.
    margin: timedelta = timedelta(seconds=120)
    # Ask again after this long whatever the expiry: the bound on how late a revocation that
    # eBay does not enforce itself (deactivation, deleted tokens) stops this fetcher.
    max_age: timedelta = timedelta(seconds=600)


@dataclass(frozen=True)
class CachedToken:
    token: AccountToken
    obtained_at: datetime


def cached_until(token: AccountToken, obtained_at: datetime, policy: TokenCachePolicy) -> datetime:
    """Until when a token obtained at ``obtained_at`` may serve new calls."""
    until = obtained_at + policy.max_age
    if token.expires_at is None:
        return obtained_at  # no expiry known: never kept
    return min(until, token.expires_at - policy.margin)


def is_usable(entry: CachedToken, now: datetime, policy: TokenCachePolicy) -> bool:
    return now < cached_until(entry.token, entry.obtained_at, policy)


class TokenUnavailableError(Exception):
    def __init__(self, account_id: int, code: TokenErrorCode | None, detail: str | None) -> None:
        super().__init__(f"no access token for account {account_id}: {code} ({detail})")
        self.code = code

    @property
    def is_permanent(self) -> bool:
        # Only the seller can fix these; retrying the window is pointless.
        return self.code in (TokenErrorCode.NEEDS_REAUTH, TokenErrorCode.UNKNOWN_ACCOUNT)


class SigningKeyUnavailableError(EbayTransientError):
    """The token service could not hand out a signing key (yet): retry the window later."""


class TokenClient:
    """The token service's client; with a ``cache`` policy it keeps tokens in memory."""

    def __init__(
        self,
        broker: NatsBroker,
        timeout: float,
        *,
        cache: TokenCachePolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._broker = broker
        self._timeout = timeout
        self._cache = cache
        self._clock = clock
        self._entries: dict[int, CachedToken] = {}
        # Windows of one account fetched at once share one request (single flight).
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Requests sent to the token service (for tests and the benchmark).
        self.requests = 0

    def forget(self, account_id: int) -> None:
        """Drop the account's cached token: the next window asks the token service."""
        self._entries.pop(account_id, None)

    async def access_token(
        self,
        account_id: int,
        *,
        force_refresh: bool = False,
        rejected: SecretStr | None = None,
    ) -> AccountToken:
        """The account's token; ``rejected``: eBay refused this one, so a fresh one, yet only one
        refresh however many fetchers report the same token."""
        policy = self._cache
        if policy is None:
            return await self._ask(account_id, force_refresh=force_refresh, rejected=rejected)
        async with self._locks[account_id]:
            entry = self._entries.get(account_id)
            if entry is not None and (force_refresh or _same(entry.token.token, rejected)):
                # Refused by eBay (or a refresh asked for): never hand this one out again.
                self._entries.pop(account_id, None)
                entry = None
            if entry is not None and is_usable(entry, self._clock(), policy):
                return entry.token
            self._entries.pop(account_id, None)
            obtained_at = self._clock()
            token = await self._ask(account_id, force_refresh=force_refresh, rejected=rejected)
            self._entries[account_id] = CachedToken(token, obtained_at)
            return token

    async def _ask(
        self, account_id: int, *, force_refresh: bool, rejected: SecretStr | None
    ) -> AccountToken:
        self.requests += 1
        response = await self._broker.request(
            GetAccessToken(
                account_id=account_id,
                force_refresh=force_refresh or rejected is not None,
                rejected_token_sha256=None if rejected is None else token_fingerprint(rejected),
            ),
            GetAccessToken.SUBJECT,
            timeout=self._timeout,
        )
        reply = AccessTokenReply.model_validate_json(response.body)
        if reply.access_token is None:
            raise TokenUnavailableError(account_id, reply.error, reply.error_detail)
        return AccountToken(
            token=reply.access_token,
            marketplace_id=reply.marketplace_id or "EBAY_US",
            site_id=reply.site_id if reply.site_id is not None else 0,
            environment=reply.environment,
            expires_at=reply.expires_at,
        )

    async def signing_key(self, environment: str | None = None) -> SigningKey:
        """The application's key pair for signing eBay calls (the token service holds it), of
        the keyset of ``environment``."""
        response = await self._broker.request(
            GetSigningKey(environment=environment), GetSigningKey.SUBJECT, timeout=self._timeout
        )
        reply = SigningKeyReply.model_validate_json(response.body)
        if (
            reply.private_key is None
            or reply.jwe is None
            or reply.signing_key_id is None
            or reply.cipher is None
        ):
            raise SigningKeyUnavailableError(
                f"no signing key from the token service: {reply.error_detail}"
            )
        return SigningKey(
            signing_key_id=reply.signing_key_id,
            cipher=reply.cipher,
            jwe=reply.jwe,
            private_key=reply.private_key,
            expires_at=reply.expires_at,
        )


def _same(token: SecretStr, other: SecretStr | None) -> bool:
    return other is not None and token.get_secret_value() == other.get_secret_value()
