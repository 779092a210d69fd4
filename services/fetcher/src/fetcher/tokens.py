"""Access tokens from the token service, over NATS request/reply."""

from __future__ import annotations

from dataclasses import dataclass

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
    def __init__(self, broker: NatsBroker, timeout: float) -> None:
        self._broker = broker
        self._timeout = timeout

    async def access_token(
        self,
        account_id: int,
        *,
        force_refresh: bool = False,
        rejected: SecretStr | None = None,
    ) -> AccountToken:
        """The account's token; ``rejected``: eBay refused this one, so a fresh one, yet only one
        refresh however many fetchers report the same token."""
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
