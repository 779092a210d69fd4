"""In-memory store of authorization codes, refresh tokens and access tokens."""

from dataclasses import dataclass
from enum import StrEnum

from ebay_sandbox.ids import opaque_token
from ebay_sandbox.world.model import Seller

CODE_TTL_S = 299
ACCESS_TTL_S = 7200
REFRESH_TTL_S = 47_304_000


class TokenStatus(StrEnum):
    """Why a presented access token is (not) usable: APIs answer each case differently."""

    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass
class Grant:
    """Common state of a code or token: who it is for, what it may do, until when."""

    seller: Seller | None  # None: an application token (client credentials grant)
    scopes: frozenset[str]
    expires_ms: int
    revoked: bool = False
    parent: str | None = None  # refresh token an access token was minted from
    # A code whose seller granted fewer scopes than the application asked for.
    narrowed: bool = False

    def valid(self, now_ms: int) -> bool:
        """Not revoked and not expired at ``now_ms``."""
        return not self.revoked and now_ms < self.expires_ms


class TokenStore:
    """Codes are single use; revoking a refresh token also revokes its access tokens."""

    def __init__(self) -> None:
        self._codes: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._access: dict[str, Grant] = {}

    def issue_code(
        self, seller: Seller, scopes: frozenset[str], now_ms: int, *, narrowed: bool = False
    ) -> str:
        """New authorization code valid for 299 s."""
        code = opaque_token("code")
        self._codes[code] = Grant(seller, scopes, now_ms + CODE_TTL_S * 1000, narrowed=narrowed)
        return code

    def redeem_code(self, code: str, now_ms: int) -> Grant | None:
        """Consume a code; None when unknown, used or expired."""
        grant = self._codes.get(code)
        if grant is None or not grant.valid(now_ms):
            return None
        grant.revoked = True  # single use
        return grant

    def issue_refresh(self, seller: Seller, scopes: frozenset[str], now_ms: int) -> str:
        """New refresh token (about 18 months)."""
        token = opaque_token("refresh")
        self._refresh[token] = Grant(seller, scopes, now_ms + REFRESH_TTL_S * 1000)
        return token

    def issue_app(self, scopes: frozenset[str], now_ms: int) -> str:
        """New application access token (client credentials grant, 2 hours)."""
        token = opaque_token("access")
        self._access[token] = Grant(None, scopes, now_ms + ACCESS_TTL_S * 1000)
        return token

    def issue_access(
        self, seller: Seller, scopes: frozenset[str], now_ms: int, parent: str | None
    ) -> str:
        """New access token (2 hours of sandbox time)."""
        token = opaque_token("access")
        self._access[token] = Grant(seller, scopes, now_ms + ACCESS_TTL_S * 1000, parent=parent)
        return token

    def refresh_grant(self, token: str, now_ms: int) -> Grant | None:
        """The refresh token's grant if still usable."""
        grant = self._refresh.get(token)
        return grant if grant is not None and grant.valid(now_ms) else None

    def refresh_seller(self, token: str) -> Seller | None:
        """The seller of a refresh token that is not revoked yet."""
        grant = self._refresh.get(token)
        return grant.seller if grant is not None and not grant.revoked else None

    def access_grant(self, token: str, now_ms: int) -> Grant | None:
        """The access token's grant if still usable."""
        grant = self._access.get(token)
        return grant if grant is not None and grant.valid(now_ms) else None

    def inspect(self, token: str, now_ms: int) -> tuple[TokenStatus, Grant | None]:
        """Status of an access token and its grant (the grant even when expired or revoked)."""
        grant = self._access.get(token)
        if grant is None:
            return TokenStatus.UNKNOWN, None
        if grant.revoked:
            return TokenStatus.REVOKED, grant
        if now_ms >= grant.expires_ms:
            return TokenStatus.EXPIRED, grant
        return TokenStatus.VALID, grant

    def expire(self, token: str, now_ms: int) -> None:
        """Make an access token expire now (fault injection)."""
        grant = self._access.get(token)
        if grant is not None:
            grant.expires_ms = min(grant.expires_ms, now_ms)

    def revoke_family(self, token: str) -> None:
        """Revoke an access token and the refresh token it came from (fault injection)."""
        grant = self._access.get(token)
        if grant is not None:
            grant.revoked = True
            if grant.parent is not None:
                self.revoke(grant.parent)

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token; False when the token is unknown."""
        if token in self._refresh:
            self._refresh[token].revoked = True
            for grant in self._access.values():
                if grant.parent == token:
                    grant.revoked = True
            return True
        if token in self._access:
            self._access[token].revoked = True
            return True
        return False
