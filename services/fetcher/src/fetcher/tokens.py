"""Access tokens from the token service, over NATS request/reply."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.nats import NatsBroker
from pydantic import SecretStr

from common.messages import AccessTokenReply, GetAccessToken, TokenErrorCode


@dataclass(frozen=True)
class AccountToken:
    """An access token and where the account sells, as the token service tells it."""

    token: SecretStr
    marketplace_id: str
    site_id: int


class TokenUnavailableError(Exception):
    def __init__(self, account_id: int, code: TokenErrorCode | None, detail: str | None) -> None:
        super().__init__(f"no access token for account {account_id}: {code} ({detail})")
        self.code = code

    @property
    def is_permanent(self) -> bool:
        # Only the seller can fix these; retrying the window is pointless.
        return self.code in (TokenErrorCode.NEEDS_REAUTH, TokenErrorCode.UNKNOWN_ACCOUNT)


class TokenClient:
    def __init__(self, broker: NatsBroker, timeout: float) -> None:
        self._broker = broker
        self._timeout = timeout

    async def access_token(self, account_id: int, *, force_refresh: bool = False) -> AccountToken:
        response = await self._broker.request(
            GetAccessToken(account_id=account_id, force_refresh=force_refresh),
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
        )
