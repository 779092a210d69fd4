"""eBay's OAuth token endpoint: authorization-code and refresh-token grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from common.ebay.oauth_requests import TOKEN_PATH, failure_capture, refresh_form, token_url
from common.settings import EbayApiSettings

__all__ = ["TOKEN_PATH", "AccessGrant", "OAuthClient", "OAuthError", "UserGrant"]


class OAuthError(Exception):
    """The token endpoint refused or failed; ``error`` is eBay's OAuth error code."""

    def __init__(
        self,
        error: str,
        description: str,
        status: int,
        capture: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description} (HTTP {status})")
        self.error = error
        self.status = status
        # The request and eBay's answer, masked (common.ebay.oauth_requests.failure_capture).
        self.capture = capture

    @property
    def is_invalid_grant(self) -> bool:
        # The refresh token is revoked, expired or not ours: only the seller can fix it.
        return self.error == "invalid_grant"


@dataclass(frozen=True)
class AccessGrant:
    access_token: SecretStr
    expires_at: datetime
    # The response's ``scope`` field: eBay sends it only when it granted other scopes than
    # asked for (RFC 6749 §5.1); None means "what was asked".
    scope: str | None


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
            },
            now,
        )
        return UserGrant(
            access_token=SecretStr(body["access_token"]),
            expires_at=now + timedelta(seconds=int(body["expires_in"])),
            refresh_token=SecretStr(body["refresh_token"]),
            refresh_token_expires_at=now + timedelta(seconds=int(body["refresh_token_expires_in"])),
            scope=body.get("scope"),
        )

    async def refresh(self, refresh_token: SecretStr, scopes: str, now: datetime) -> AccessGrant:
        body = await self._post(refresh_form(refresh_token.get_secret_value(), scopes), now)
        return AccessGrant(
            access_token=SecretStr(body["access_token"]),
            expires_at=now + timedelta(seconds=int(body["expires_in"])),
            scope=body.get("scope"),
        )

    async def _post(self, form: dict[str, str], now: datetime) -> dict[str, Any]:
        url = token_url(self._settings.api_base_url)
        client_id = self._settings.client_id
        try:
            response = await self._http.post(
                url,
                data=form,
                auth=(client_id, self._settings.client_secret.get_secret_value()),
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
            if not isinstance(error, dict):
                error = {}
            code = str(error.get("error", "http_error"))
            raise OAuthError(
                code,
                str(error.get("error_description", response.reason_phrase)),
                response.status_code,
                failure_capture(
                    at=now,
                    method=response.request.method,
                    url=url,
                    request_headers=response.request.headers,
                    form=form,
                    client_id=client_id,
                    status=response.status_code,
                    response_headers=response.headers,
                    response_text=response.text,
                    error=code,
                ),
            )
        payload: dict[str, Any] = response.json()
        return payload
