"""eBay's OAuth token endpoint: authorization-code and refresh-token grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from pydantic import SecretStr

from common.settings import EbayApiSettings

TOKEN_PATH = "/identity/v1/oauth2/token"


class OAuthError(Exception):
    """The token endpoint refused or failed; ``error`` is eBay's OAuth error code."""

    def __init__(self, error: str, description: str, status: int) -> None:
        super().__init__(f"{error}: {description} (HTTP {status})")
        self.error = error
        self.status = status

    @property
    def is_invalid_grant(self) -> bool:
        # The refresh token is revoked, expired or not ours: only the seller can fix it.
        return self.error == "invalid_grant"


@dataclass(frozen=True)
class AccessGrant:
    access_token: SecretStr
    expires_at: datetime


@dataclass(frozen=True)
class UserGrant(AccessGrant):
    refresh_token: SecretStr
    refresh_token_expires_at: datetime


class OAuthClient:
    def __init__(self, http: httpx.AsyncClient, settings: EbayApiSettings) -> None:
        self._http = http
        self._settings = settings

    async def exchange_code(self, code: SecretStr, now: datetime) -> UserGrant:
        body = await self._post(
            {
                "grant_type": "authorization_code",
                "code": code.get_secret_value(),
                "redirect_uri": self._settings.ru_name,
            }
        )
        return UserGrant(
            access_token=SecretStr(body["access_token"]),
            expires_at=now + timedelta(seconds=int(body["expires_in"])),
            refresh_token=SecretStr(body["refresh_token"]),
            refresh_token_expires_at=now + timedelta(seconds=int(body["refresh_token_expires_in"])),
        )

    async def refresh(self, refresh_token: SecretStr, scopes: str, now: datetime) -> AccessGrant:
        body = await self._post(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token.get_secret_value(),
                "scope": scopes,
            }
        )
        return AccessGrant(
            access_token=SecretStr(body["access_token"]),
            expires_at=now + timedelta(seconds=int(body["expires_in"])),
        )

    async def _post(self, form: dict[str, str]) -> dict[str, str]:
        try:
            response = await self._http.post(
                f"{self._settings.api_base_url}{TOKEN_PATH}",
                data=form,
                auth=(self._settings.client_id, self._settings.client_secret.get_secret_value()),
            )
        except httpx.HTTPError as exc:
            # Unreachable or timed out: a failed refresh like any other (logged, retried later),
            # not an exception that leaves the caller without an answer.
            raise OAuthError("unreachable", type(exc).__name__, 0) from exc
        if response.status_code != 200:
            try:
                error = response.json()
            except ValueError:
                error = {}
            raise OAuthError(
                str(error.get("error", "http_error")),
                str(error.get("error_description", response.reason_phrase)),
                response.status_code,
            )
        payload: dict[str, str] = response.json()
        return payload
